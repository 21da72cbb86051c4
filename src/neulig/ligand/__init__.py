"""Neural Ligand (NeuLig): the Portland router, its loss, and merging at every granularity."""

from neulig.ligand.router import (
    TASK_LOSSES,
    Portland,
    TaskFeatures,
    alignment_loss,
    ensemble_accuracy,
    entropy_loss,
    fuse,
    offset_keys,
    parameter_offsets,
    supervised_loss,
    train_router,
)

__all__ = [
    "TASK_LOSSES",
    "Portland",
    "TaskFeatures",
    "alignment_loss",
    "ensemble_accuracy",
    "entropy_loss",
    "fuse",
    "offset_keys",
    "parameter_offsets",
    "supervised_loss",
    "train_router",
]
