"""Row labels of the report, read from the catalogue and the records vocabulary."""

from __future__ import annotations

from neulig.catalogue import ENSEMBLE_LABELS, merge_methods
from neulig.records import MODEL_LABELS, NEULIG_LABELS


def method_labels() -> dict[str, str]:
    """Every method id -> its label, in the order of the paper's main table (the catalogue's
    merge order)."""
    merges = {name: m.label for name, m in merge_methods().items()}
    return {**MODEL_LABELS, **merges, **ENSEMBLE_LABELS, **NEULIG_LABELS}


def label(method: str) -> str:
    return method_labels().get(method, method)


def order(methods) -> list[str]:
    """``methods`` sorted as the table's rows: known ones in label order, others after."""
    known = list(method_labels())
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))
