"""The miniature's merge methods: each turns two trained ResNets into one scored model.

Every merged model gets its BN statistics re-estimated on the calibration images (the train
images of both tasks, labels unused), as MuDSC and ZipIt do. MuDSC's lambda is swept and
selected on the validation split (joint accuracy); the paper's script selects on train.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import torch

from neulig.align.matching import align
from neulig.align.similarity import cross_blocks, joint_activation_similarity
from neulig.align.zip_models import zip_models
from neulig.merging.state_dict import mean
from neulig.mudsc_miniature import METHODS
from neulig.mudsc_miniature.tasks import MiniTask
from neulig.mudsc_miniature.train import ensemble_scorer, model_scorer, scores
from neulig.resnet import ResNet, reset_bn

log = logging.getLogger(__name__)

SWEPT = ("mudsc_align", "mudsc_zip")


@dataclass(frozen=True)
class MiniRow:
    """One scored model. CSV columns, in order: dataset, seeds (``a-b``), method (one of
    :data:`METHODS`), lam (MuDSC's weight share; empty when unused), split (val/test),
    selected (the lam picked on val, or the only run), joint (10-way accuracy %), taska,
    taskb (5-way accuracy % on each task), per_task (their mean)."""

    dataset: str
    seeds: str
    method: str
    lam: float | None
    split: str
    selected: bool
    joint: float
    taska: float
    taskb: float
    per_task: float


@dataclass
class Merged:
    """A merged state and, for the landscape, the other model as aligned onto model A."""

    state: dict[str, torch.Tensor]
    aligned: dict[str, torch.Tensor] | None = None


def _loaded(template: ResNet, state: dict, calibration: torch.Tensor) -> ResNet:
    model = copy.deepcopy(template)
    model.load_state_dict(state)
    return reset_bn(model, calibration).eval()


class Merger:
    """Merges ``b`` into ``a`` by any method; the joint activation similarity (independent of
    lam and method) is computed once, and MuDSC-Zip at a lam reuses MuDSC-Align's perms at
    that lam (the S_w coordinates, see :mod:`neulig.align.zip_models`)."""

    def __init__(self, a: ResNet, b: ResNet, calibration: torch.Tensor, params: dict) -> None:
        self.a, self.b, self.calibration, self.params = a, b, calibration, params
        self.joint = joint_activation_similarity([a, b], calibration)
        self.mudsc_perms: dict[float, dict] = {}

    def __call__(self, method: str, lam: float) -> Merged:
        """One merge (``lam`` only matters for the MuDSC methods)."""
        a, b, p = self.a, self.b, self.params
        if method == "average":
            return Merged(mean([a.state_dict(), b.state_dict()]))
        if method in ("weight", "activation", "mudsc_align"):
            kind = "mudsc" if method == "mudsc_align" else method
            result = align(kind, a, b, self.calibration, lam=lam, seed=p["seed"],
                           activation=cross_blocks(self.joint))  # fmt: skip
            if method == "mudsc_align":
                self.mudsc_perms[lam] = result.perms
            return Merged(mean([a.state_dict(), result.state]), result.state)
        zip_lam = lam if method == "mudsc_zip" else 0.0
        perms = [self.mudsc_perms[lam]] if zip_lam > 0 and lam in self.mudsc_perms else None
        result = zip_models([a, b], self.calibration, lam=zip_lam, alpha=p["alpha"],
                            beta=p["beta"], seed=p["seed"],
                            shared={"activation": self.joint, "perms": perms})  # fmt: skip
        return Merged(result.state)


def evaluate_methods(
    models: tuple[ResNet, ResNet],
    tasks: list[MiniTask],
    heads: torch.Tensor,
    calibration: torch.Tensor,
    params: dict,
    tag: tuple[str, str],
) -> tuple[list[MiniRow], dict[str, Merged]]:
    """Score every method of :data:`METHODS` on val and test; the swept methods at every lam
    of ``params["lam_grid"]``. Returns the rows and the selected merges (for the landscape)."""
    a, b = models
    rows: list[MiniRow] = []

    def add(method: str, scorer, lam: float | None, selected: bool) -> float:
        for split in ("val", "test"):
            acc = scores(scorer, tasks, split)
            rows.append(MiniRow(*tag, method, lam, split, selected, acc["joint"], acc["taska"],
                                acc["taskb"], acc["per_task"]))  # fmt: skip
        return rows[-2].joint  # val joint accuracy

    add("model_a", model_scorer(a, heads), None, True)
    add("model_b", model_scorer(b, heads), None, True)
    add("ensemble", ensemble_scorer([a, b], heads), None, True)
    chosen: dict[str, Merged] = {}
    merge = Merger(a, b, calibration, params)
    for method in METHODS[3:]:
        grid = params["lam_grid"] if method in SWEPT else [params["lam"]]
        best = None
        for lam in grid:
            merged = merge(method, lam)
            val = add(method, model_scorer(_loaded(a, merged.state, calibration), heads),
                      lam if method in SWEPT else None, False)  # fmt: skip
            if best is None or val > best[0]:
                best = (val, len(rows), merged)
        _, end, chosen[method] = best
        rows[end - 2 : end] = [
            MiniRow(**{**r.__dict__, "selected": True}) for r in rows[end - 2 : end]
        ]
        log.info("%s: selected %s", method, rows[end - 1])
    return rows, chosen
