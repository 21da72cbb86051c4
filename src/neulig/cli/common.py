"""Helpers of the step adapters: device, packed task folders, in-job resume state.

Each helper imports what it needs: a job runs one step, and the steps' modules together
(torch, open_clip, matplotlib) would cost every job seconds.
"""

from __future__ import annotations

from pathlib import Path


def torch_device(args):
    from neulig.models import resolve_device

    return resolve_device(args.params.get("device", "auto"))


def task_dir(path: str) -> str:
    """A packed task's folder, given the folder or its ``meta.json`` (what rules declare)."""
    return str(Path(path).parent) if path.endswith("meta.json") else path


def load_tasks(paths: list[str], splits: tuple[str, ...]) -> list:
    from neulig.data.packed import load_task

    return [load_task(task_dir(p), splits=splits) for p in paths]


def train_state(out: str, params: dict):
    """The in-job resume checkpoint of a training step: beside its output, not an output."""
    from neulig.training import TrainState

    return TrainState(Path(out).with_suffix(".state.pt"), params.get("checkpoint_every", 100))
