"""The packed on-disk format every task is materialised into.

``data/<task>/`` holds, per split, ``<split>.images.npy`` (uint8, N x H x W x 3) and
``<split>.labels.npy`` (int64, N), plus ``meta.json`` with class names, prompt templates, counts,
the source and a SHA-256 over all arrays. ``.npy`` files are byte-deterministic, so DVC hashes
stay stable when the same config regenerates the data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neulig.data.layout import SPLITS, split_files
from neulig.io import ArtifactError, load_array, read_json, save_array, write_json

if TYPE_CHECKING:  # torch loads on first use: the download step never needs it
    import torch

__all__ = ["SPLITS", "Split", "Task", "load_task", "split_files", "write_task"]


@dataclass
class Split:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        return torch.from_numpy(self.images), torch.from_numpy(self.labels)


@dataclass
class Task:
    name: str
    classnames: list[str]
    templates: list[str]
    splits: dict[str, Split]
    meta: dict


def checksum(splits: dict[str, Split]) -> str:
    digest = hashlib.sha256()
    for name in sorted(splits):
        for array in (splits[name].images, splits[name].labels):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_task(root: str | os.PathLike, task: Task) -> None:
    """Write arrays first and ``meta.json`` last, so a present meta means a complete task."""
    for name, split in task.splits.items():
        if split.images.dtype != np.uint8 or split.images.ndim != 4 or split.images.shape[-1] != 3:
            raise ValueError(f"{task.name}/{name}: images must be uint8 [N, H, W, 3]")
        images_path, labels_path = split_files(root, name)
        save_array(images_path, split.images)
        save_array(labels_path, split.labels.astype(np.int64))
    meta = dict(task.meta)
    meta.update(
        name=task.name,
        classnames=task.classnames,
        templates=task.templates,
        counts={name: int(len(s.labels)) for name, s in task.splits.items()},
        image_shape=list(next(iter(task.splits.values())).images.shape[1:]),
        sha256=checksum(task.splits),
    )
    write_json(Path(root) / "meta.json", meta)


def load_task(
    root: str | os.PathLike, splits: tuple[str, ...] | None = None, verify: bool = True
) -> Task:
    """Load a packed task; with ``verify`` the checksum must match when all splits are loaded."""
    root = Path(root)
    if not (root / "meta.json").exists():
        raise ArtifactError(
            f"{root}/meta.json: dataset not found; run `snakemake {root}/meta.json` "
            "(or `neulig download`) first"
        )
    meta = read_json(root / "meta.json")
    names = tuple(meta["counts"]) if splits is None else splits
    loaded = {}
    for name in names:
        if name not in meta["counts"]:
            raise ArtifactError(f"{root}: has no '{name}' split (has {sorted(meta['counts'])})")
        images_path, labels_path = split_files(root, name)
        loaded[name] = Split(load_array(images_path), load_array(labels_path))
    if verify and set(names) == set(meta["counts"]) and checksum(loaded) != meta["sha256"]:
        raise ArtifactError(
            f"{root}: arrays do not match the checksum in meta.json (corrupt or edited); "
            "delete the folder and rerun the download step"
        )
    return Task(meta["name"], meta["classnames"], meta["templates"], loaded, meta)
