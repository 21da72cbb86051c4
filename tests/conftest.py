"""Shared fixtures: tiny open_clip towers and a repo-root path."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from neulig.models import create_clip

ROOT = Path(__file__).resolve().parents[1]
TINY = "NeuLig-Tiny-ViT-32"


@pytest.fixture(autouse=True)
def _quiet_open_clip():
    logging.getLogger().setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def towers() -> list[torch.nn.Module]:
    """Three tiny vision towers with different random weights."""
    return [create_clip(TINY, None, seed=s).visual.eval() for s in range(3)]


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(
        0, 256, (6, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
