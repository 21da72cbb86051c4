"""Where a packed task's files live (kept free of numpy and torch: the planner imports it)."""

from __future__ import annotations

import os
from pathlib import Path

SPLITS = ("train", "val", "test", "pretrain")


def split_files(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    root = Path(root)
    return root / f"{split}.images.npy", root / f"{split}.labels.npy"


def dataset_files(root: str) -> list[str]:
    """``meta.json`` and the image/label arrays of every split, as the download step writes
    them (every split is written, an unused one empty)."""
    return [f"{root}/meta.json"] + [str(p) for s in SPLITS for p in split_files(root, s)]
