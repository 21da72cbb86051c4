"""Accuracy from features and frozen zero-shot heads; the features cache of one model."""

from __future__ import annotations

import os

import torch

from neulig.io import ArtifactError, load_tensors
from neulig.models import Head, encode_images
from neulig.records import Record, parse_model


def load_heads(tensors: dict[str, torch.Tensor]) -> dict[str, Head]:
    """Split a heads file (``<task>/weight``, ``<task>/scale``) into one :class:`Head` per task."""
    tasks = sorted({key.rsplit("/", 1)[0] for key in tensors})
    return {
        t: Head.from_tensors({"weight": tensors[f"{t}/weight"], "scale": tensors[f"{t}/scale"]})
        for t in tasks
    }


def read_heads(path: str | os.PathLike, tasks: list[str]) -> dict[str, Head]:
    """The heads of ``tasks`` from a heads file; a missing one names the task and the fix."""
    heads = load_heads(load_tensors(path))
    missing = [t for t in tasks if t not in heads]
    if missing:
        raise ArtifactError(
            f"{path}: no zero-shot head for task {missing[0]!r} (has {sorted(heads)}); "
            "rerun the pretrain step (`snakemake --forcerun pretrain_clip`)"
        )
    return {t: heads[t] for t in tasks}


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    return float((scores.argmax(dim=-1) == labels).float().mean() * 100.0)


@torch.no_grad()
def encode_tasks(visual, tasks: list, device) -> dict[str, torch.Tensor]:
    """Features (``<task>/<split>``) and labels (``<task>/<split>/labels``) of every loaded
    split of every task: the cache that ensembles and routers read instead of re-encoding."""
    features = {}
    for task in tasks:
        for split, data in task.splits.items():
            images, labels = data.tensors()
            features[f"{task.name}/{split}"] = encode_images(visual, images, device=device)
            features[f"{task.name}/{split}/labels"] = labels
    return features


def model_records(
    model: str, features: dict[str, torch.Tensor], heads: dict[str, Head], split: str = "test"
) -> list[Record]:
    """Test accuracy of one single model (named by :func:`neulig.records.model_name`)."""
    kind, method = parse_model(model)
    rows = []
    for task, head in heads.items():
        z, y = features[f"{task}/{split}"], features[f"{task}/{split}/labels"]
        acc = accuracy(head(z), y)
        rows.append(
            Record(
                model,
                method,
                kind,
                "model" if kind != "merge" else "merge",
                task,
                acc,
                len(y),
                split=split,
            )
        )
    return rows
