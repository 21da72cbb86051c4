"""Row labels of the report, read from the registries and the records vocabulary."""

from __future__ import annotations

from functools import cache

from neulig.config import merge_method_labels
from neulig.records import ENSEMBLE_LABELS, MODEL_LABELS, NEULIG_LABELS

# The merge baselines in the order of the NeuLig paper's Table 2; other methods follow.
PAPER_MERGE_ORDER = (
    "average",
    "task_arithmetic",
    "ties",
    "regmean",
    "fisher",
    "adamerging_task",
    "adamerging_layer",
    "wemoe",
)


@cache
def method_labels() -> dict[str, str]:
    """Every method id -> its label, in the order of the paper's main table."""
    merges = merge_method_labels()
    ordered = sorted(merges, key=lambda m: (m not in PAPER_MERGE_ORDER, _rank(m), m))
    merges = {m: merges[m] for m in ordered}
    return {**MODEL_LABELS, **merges, **ENSEMBLE_LABELS, **NEULIG_LABELS}


def _rank(method: str) -> int:
    return PAPER_MERGE_ORDER.index(method) if method in PAPER_MERGE_ORDER else 0


def label(method: str) -> str:
    return method_labels().get(method, method)


def order(methods) -> list[str]:
    """``methods`` sorted as the table's rows: known ones in label order, others after."""
    known = list(method_labels())
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))
