"""What every dataset source returns, before splitting and packing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_TEMPLATES = ["a photo of a {}.", "a picture of a {}.", "an image of a {}."]

# Which splits are carved from which pool, in carving order. With one pool everything comes from
# ``all``; with official splits test keeps the official test set and the rest share train.
POOL_SPLITS = {
    "all": ("test", "val", "pretrain", "train"),
    "test": ("test",),
    "train": ("val", "pretrain", "train"),
}


@dataclass
class RawDataset:
    """Images per official split: ``{"all": ...}`` or ``{"train": ..., "test": ...}``."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    classnames: list[str]
    templates: list[str] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))


def carved_splits(pool: str, sizes: dict[str, int]) -> list[str]:
    """The non-empty splits carved from ``pool``: the held-out ones asked for (size > 0) and train.

    Every class present in a pool needs at least this many images, one per split, or it is bound
    to be missing from some split (a class seen in training but never tested, or the reverse).
    Train always counts: it is the rest of the pool and must not come out empty.
    """
    return [s for s in POOL_SPLITS[pool] if s == "train" or sizes.get(s, 0) > 0]
