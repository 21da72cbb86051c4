"""Simple averaging: the uniform mean of the experts' parameters."""

from __future__ import annotations

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, mean

LABEL = "Weight averaging"


def merge(ctx: MergeContext) -> StateDict:
    """(theta_1 + ... + theta_T) / T.

    Example:
        >>> merged = merge(MergeContext(theta0, {"a": theta_a, "b": theta_b}))
    """
    return mean(list(ctx.experts.values()))
