"""Row labels of the report, read from the catalogue and the records vocabulary."""

from __future__ import annotations

from neulig.catalogue import ENSEMBLE_LABELS, PER_TASK_MARK, PER_TASK_NOTE, merge_methods
from neulig.records import MODEL_LABELS, NEULIG_LABELS


def method_labels() -> dict[str, str]:
    """Every method id -> its label, in the order of the paper's main table (the catalogue's
    merge order)."""
    # a per-task method's label carries the mark wherever it appears (tables, fidelity, seeds)
    merges = {
        name: m.label + (PER_TASK_MARK if m.per_task else "") for name, m in merge_methods().items()
    }
    return {**MODEL_LABELS, **merges, **ENSEMBLE_LABELS, **NEULIG_LABELS}


def label(method: str) -> str:
    return method_labels().get(method, method)


def order(methods) -> list[str]:
    """``methods`` sorted as the table's rows: known ones in label order, others after."""
    known = list(method_labels())
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))


def per_task_note(rows) -> str:
    """The line explaining the per-task mark, when one of ``rows`` (labels) carries it."""
    return f"\n{PER_TASK_NOTE}\n" if any(PER_TASK_MARK in str(r) for r in rows) else ""
