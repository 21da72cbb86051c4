"""Prediction-level ensembles of experts, one signature each: ``(features, head) -> scores``.

``features`` is ``[T, N, d]``: the T experts' image features of the same N inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neulig.evaluate import accuracy
from neulig.models import Head
from neulig.records import Record


def probability_average(features: torch.Tensor, head: Head) -> torch.Tensor:
    """Average of the experts' class probabilities (logit-level ensemble)."""
    return torch.stack([head(z).softmax(dim=-1) for z in features]).mean(dim=0)


def feature_average(features: torch.Tensor, head: Head) -> torch.Tensor:
    """Head applied to the mean of the experts' image features (feature-level ensemble)."""
    return head(features.mean(dim=0))


ENSEMBLE_METHODS: dict[str, Callable[[torch.Tensor, Head], torch.Tensor]] = {
    "probabilities": probability_average,
    "features": feature_average,
}


def ensemble_records(method: str, cached: list[dict], heads: dict[str, Head]) -> list[Record]:
    """Test accuracy per task of ``method`` over the experts' cached features."""
    rows = []
    for task, head in heads.items():
        z = torch.stack([c[f"{task}/test"] for c in cached])
        y = cached[0][f"{task}/test/labels"]
        acc = accuracy(ENSEMBLE_METHODS[method](z, head), y)
        rows.append(Record(f"ensemble_{method}", method, "ensemble", "ensemble", task, acc, len(y)))
    return rows
