"""DARE + TIES merging (Yu et al., ICML 2024): drop and rescale each task vector, then trim,
elect sign and merge them as TIES does."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.sparsify import dare, ties_merge
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="DARE + TIES merging")


def merge(
    ctx: MergeContext,
    scaling: float = 0.5,
    drop_rate: float = 0.5,
    density: float = 0.2,
    merge_func: str = "sum",
) -> StateDict:
    """theta_0 + scaling * ties_merge(dare(tau_1), ..., dare(tau_T)), with the masks drawn
    from ``ctx.seed`` (see :mod:`neulig.merging.sparsify`); defaults from FusionBench's
    ``dare/ties_merging.yaml`` (no CLIP values are published). drop_rate = 0 is TIES.

    Example:
        >>> merged = merge(MergeContext(theta0, experts, seed=0), scaling=0.5, drop_rate=0.5)
    """
    taus = dare(list(ctx.task_vectors.values()), drop_rate, ctx.seed)
    return add_scaled(ctx.pretrained, ties_merge(taus, density, merge_func), scaling)
