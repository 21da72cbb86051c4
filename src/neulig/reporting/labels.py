"""Row labels of the report, read from the registries and the records vocabulary."""

from __future__ import annotations

from functools import cache

from neulig.config import merge_method_labels
from neulig.records import ENSEMBLE_LABELS, MODEL_LABELS, NEULIG_LABELS


@cache
def method_labels() -> dict[str, str]:
    """Every method id -> its label, in the order of the paper's main table."""
    return {**MODEL_LABELS, **merge_method_labels(), **ENSEMBLE_LABELS, **NEULIG_LABELS}


def label(method: str) -> str:
    return method_labels().get(method, method)


def order(methods) -> list[str]:
    """``methods`` sorted as the table's rows: known ones in label order, others after."""
    known = list(method_labels())
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))
