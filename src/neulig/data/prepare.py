"""Turn a task's config into the packed format: load the source, split with a fixed seed."""

from __future__ import annotations

import logging
import os

import numpy as np

from neulig.data.packed import Split, Task, write_task
from neulig.data.raw import POOL_SPLITS
from neulig.data.sources import SOURCES, RawDataset
from neulig.io import ConfigError

log = logging.getLogger(__name__)


def make_splits(
    raw: RawDataset, sizes: dict[str, int], seed: int, task: str = "task"
) -> dict[str, Split]:
    """Carve test / val / pretrain / train with a seeded permutation.

    With one pool (``all``), test, val and pretrain are taken first and train is the rest. With
    official ``train``/``test`` splits, test comes from the official test set and val, pretrain
    and train from the official train set, so val is always held out from training data.
    ``sizes["train"]`` (optional) caps the train split.

    Image folders are checked for classes too small for their splits when read; other sources
    (torchvision, procedural) may hold rare classes, which a seeded split keeps or misses.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, Split] = {}

    def take(pool: tuple[np.ndarray, np.ndarray], order: list[str]) -> None:
        images, labels = pool
        perm = rng.permutation(len(labels))
        start = 0
        for name in order:
            count = sizes.get(name, 0) if name != "train" else sizes.get("train") or len(perm)
            stop = min(start + count, len(perm))
            if name != "train" and stop - start < count:
                raise ConfigError(
                    f"tasks.{task}.splits.{name}: asks for {count} images but only "
                    f"{len(perm) - start} remain; lower it"
                )
            idx = np.sort(perm[start:stop])
            out[name] = Split(images[idx], labels[idx])
            start = stop

    if "all" in raw.splits:
        take(raw.splits["all"], list(POOL_SPLITS["all"]))
    else:
        take(raw.splits["test"], list(POOL_SPLITS["test"]))
        take(raw.splits["train"], list(POOL_SPLITS["train"]))
    if len(out["train"].labels) == 0:
        raise ConfigError(f"tasks.{task}.splits: no images left for train; lower test/val/pretrain")
    return out


def prepare_task(name: str, spec: dict, seed: int, out_dir: str | os.PathLike) -> Task:
    """Materialise one task into ``out_dir`` in the packed format."""
    if spec.get("source") not in SOURCES:
        raise ConfigError(
            f"tasks.{name}.source: unknown source {spec.get('source')!r}; known: {sorted(SOURCES)}"
        )
    raw = SOURCES[spec["source"]](spec, seed)
    splits = make_splits(raw, spec.get("splits", {}), seed, name)
    task = Task(
        name=name,
        classnames=list(raw.classnames),
        templates=list(spec.get("templates") or raw.templates),
        splits=splits,
        meta={"source": spec["source"], "seed": seed},
    )
    write_task(out_dir, task)
    log.info("%s: %s", name, {k: len(v.labels) for k, v in splits.items()})
    return task
