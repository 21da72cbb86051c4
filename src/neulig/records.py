"""The one row type of every results file, and the vocabulary its fields use.

Each job writes a JSON list of :class:`Record`; the report concatenates them into one long
table. Kinds, levels, model names and the NeuLig granularities are defined here and nowhere
else. Diagnostics (router coefficients, hyper-parameter choices) are not records: they go to
their own files beside them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

from neulig.catalogue import ROUTER_LOSSES
from neulig.errors import ArtifactError
from neulig.io import REBUILD, read_json, write_json

# What produced the prediction: the pretrained model, one expert, a static merge, a
# prediction-level ensemble, NeuLig (router + merge or ensemble), or an aligned pair.
KINDS = ("zero_shot", "expert", "merge", "ensemble", "neulig", "align")
# At which level the experts collaborate: one network ("model"), merged parameters, or
# combined predictions.
LEVELS = ("model", "merge", "ensemble")

NEULIG_ENSEMBLE = "neulig_ensemble"
# NeuLig's parameter-level granularities, in the report's order.
GRANULARITIES = ("per_sample", "batch_first", "batch_mean", "per_task", "global")
NEULIG_LABELS = {
    NEULIG_ENSEMBLE: "NeuLig ensembling (sum_t beta_t z_t)",
    "neulig_merge_per_sample": "NeuLig merging, per sample",
    "neulig_merge_batch_first": "NeuLig merging, per batch (first sample's beta)",
    "neulig_merge_batch_mean": "NeuLig merging, per batch (mean beta)",
    "neulig_merge_per_task": "NeuLig merging, per task (static)",
    "neulig_merge_global": "NeuLig merging, global (static)",
}
MODEL_LABELS = {"zero_shot": "Zero-shot (pretrained)", "expert": "Fine-tuned experts (own task)"}

# How an alignment job combines the aligned pair.
ALIGN_VARIANTS = ("experts", "average", "neulig_merge", "neulig_ensemble", "lambda_sweep")
VARIANTS = ALIGN_VARIANTS + ROUTER_LOSSES


def neulig_method(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown NeuLig granularity {granularity!r}; known: {GRANULARITIES}")
    return f"neulig_merge_{granularity}"


def combo_name(tasks) -> str:
    """The name of a combination of experts (a records ``combo``): ``a+b+c``."""
    return "+".join(tasks)


def combo_tasks(combo: str) -> list[str]:
    """The tasks of a name made by :func:`combo_name`."""
    return combo.split("+")


def model_name(kind: str, name: str | None = None) -> str:
    """The name of a single evaluated network: ``pretrained``, ``expert_<task>``,
    ``merge_<method>``."""
    if kind == "zero_shot":
        return "pretrained"
    if kind not in ("expert", "merge") or not name:
        raise ValueError(f"no single-model name for kind {kind!r} and name {name!r}")
    return f"{kind}_{name}"


def parse_model(model: str) -> tuple[str, str]:
    """``(kind, method)`` of a name made by :func:`model_name`."""
    if model == "pretrained":
        return "zero_shot", "zero_shot"
    kind, _, name = model.partition("_")
    if kind == "expert" and name:
        return "expert", "expert"
    if kind == "merge" and name:
        return "merge", name
    raise ValueError(f"not a model name: {model!r} (pretrained, expert_<task>, merge_<method>)")


@dataclass(frozen=True)
class Record:
    """One accuracy: one model (or collaboration of models) on one task's split."""

    model: str
    method: str
    kind: str
    level: str
    task: str
    accuracy: float
    n: int
    split: str = "test"
    combo: str | None = None  # NeuLig: the experts that collaborate, ``a+b+c``
    n_models: int | None = None
    setting: str | None = None  # alignment: different_init | shared_init
    variant: str | None = None  # alignment: one of ALIGN_VARIANTS; NeuLig: its loss
    lam: float | None = None  # alignment: MuDSC's weight/activation blend

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.level not in LEVELS:
            raise ValueError(
                f"record kind/level {self.kind!r}/{self.level!r} not in the vocabulary"
            )
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"record variant {self.variant!r} not in {VARIANTS}")
        object.__setattr__(self, "accuracy", round(float(self.accuracy), 4))
        object.__setattr__(self, "n", int(self.n))

    def to_dict(self) -> dict:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(Record))


def read_records(path: str | os.PathLike) -> list[Record]:
    """Load a records file, checking every row against :class:`Record`."""
    rows = read_json(path)
    try:
        return [Record(**row) for row in rows]
    except (TypeError, ValueError) as err:
        msg = f"{path}: not a records file ({err}); {REBUILD}"
        raise ArtifactError(msg) from err


def write_records(path: str | os.PathLike, records: list[Record]) -> None:
    write_json(path, [r.to_dict() for r in records])
