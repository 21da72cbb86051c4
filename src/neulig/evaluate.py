"""Accuracy from cached features and frozen heads, as tidy records (one dict per model x task)."""

from __future__ import annotations

import torch

from neulig.models import Head


def load_heads(tensors: dict[str, torch.Tensor]) -> dict[str, Head]:
    """Split a heads file (``<task>/weight``, ``<task>/scale``) into one :class:`Head` per task."""
    tasks = sorted({key.rsplit("/", 1)[0] for key in tensors})
    return {
        t: Head.from_tensors({"weight": tensors[f"{t}/weight"], "scale": tensors[f"{t}/scale"]})
        for t in tasks
    }


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    return float((scores.argmax(dim=-1) == labels).float().mean() * 100.0)


def record(model: str, method: str, kind: str, task: str, acc: float, n: int, **extra) -> dict:
    """One row of the long results table that every table and figure reads."""
    return {
        "model": model,
        "method": method,
        "kind": kind,
        "task": task,
        "accuracy": round(acc, 4),
        "n": int(n),
        **extra,
    }


def evaluate_features(
    model: str,
    method: str,
    kind: str,
    features: dict[str, torch.Tensor],
    heads: dict[str, Head],
    split: str = "test",
) -> list[dict]:
    """Records for one model from its features file (``<task>/<split>`` + ``/labels``)."""
    rows = []
    for task, head in heads.items():
        z, y = features[f"{task}/{split}"], features[f"{task}/{split}/labels"]
        rows.append(record(model, method, kind, task, accuracy(head(z), y), len(y), split=split))
    return rows
