"""Pieces shared by the training loops: schedules, batch order, seeding, threads."""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from neulig.io import atomic_path

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: torch.device, params: dict) -> torch.autocast:
    """bfloat16 mixed precision when ``params["amp"]`` is set and the device is a GPU."""
    enabled = bool(params.get("amp")) and device.type == "cuda"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup: int, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base lr over ``warmup`` steps, then cosine decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batch_indices(
    n: int, batch_size: int, steps: int, seed: int, start: int = 0
) -> Iterator[torch.Tensor]:
    """Batches ``start..steps-1`` of a seeded reshuffle-every-epoch order over ``n`` examples.

    Each epoch's permutation depends only on ``(seed, epoch)``, so a resumed run draws exactly
    the batches an uninterrupted run would have drawn.
    """
    batch_size = min(batch_size, n)
    per_epoch = n // batch_size
    epoch, perm = -1, None
    for step in range(start, steps):
        if step // per_epoch != epoch:
            epoch = step // per_epoch
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        pos = (step % per_epoch) * batch_size
        yield perm[pos : pos + batch_size]


def step_generator(seed: int, step: int) -> torch.Generator:
    """A generator for the random draws of one step (resumable, unlike one long stream)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class TrainState:
    """Atomic training-state checkpoints (model, optimiser, scheduler, step) for in-job resume.

    Saved every ``every`` steps next to the job's output and removed once the job finishes; a
    restarted job continues from the last one and ends with the same weights as an
    uninterrupted run. Loaded with ``weights_only=True``: nothing is unpickled.
    """

    def __init__(self, path: str | os.PathLike | None, every: int):
        self.path = Path(path) if path else None
        self.every = every

    def resume(self, model, optimizer, scheduler) -> int:
        if self.path is None or not self.path.exists():
            return 0
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except Exception as err:  # any unreadable state: start over rather than fail
            log.warning("%s: unusable training state (%s); starting from step 0", self.path, err)
            return 0
        log.info("%s: resuming at step %d", self.path, state["step"])
        return int(state["step"])

    def save(self, step: int, model, optimizer, scheduler) -> None:
        if self.path is None or self.every <= 0 or step % self.every:
            return
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
