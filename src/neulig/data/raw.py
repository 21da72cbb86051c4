"""What every dataset source returns, before splitting and packing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_TEMPLATES = ["a photo of a {}.", "a picture of a {}.", "an image of a {}."]


@dataclass
class RawDataset:
    """Images per official split: ``{"all": ...}`` or ``{"train": ..., "test": ...}``."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    classnames: list[str]
    templates: list[str] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))
