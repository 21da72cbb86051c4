"""Simple averaging: the uniform mean of the experts' parameters."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.coefficients import Coefficients
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, mean

METHOD = MergeMethod(label="Weight averaging", paper_rank=1, counterpart=True)


def merge(ctx: MergeContext) -> StateDict:
    """(theta_1 + ... + theta_T) / T.

    Example:
        >>> merged = merge(MergeContext(theta0, {"a": theta_a, "b": theta_b}))
    """
    return mean(list(ctx.experts.values()))


def coefficients(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """Counterpart: c_0 = 0, c_t = 1/T (the feature-average ensemble)."""
    return torch.tensor(0.0), torch.full((len(tasks),), 1.0 / len(tasks))
