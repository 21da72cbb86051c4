"""TIES merging (Yadav et al., 2023): trim, elect sign, disjoint merge."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.sparsify import ties_merge
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="TIES merging", paper_rank=3)


def merge(
    ctx: MergeContext, scaling: float = 1.0, density: float = 0.2, merge_func: str = "mean"
) -> StateDict:
    """theta_0 + scaling * :func:`neulig.merging.sparsify.ties_merge` (trim, elect sign,
    disjoint merge) of the task vectors.

    Counterpart (:mod:`neulig.merging.levels`): none, TIES is merge-only in the paper.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0, density=0.2)
    """
    merged = ties_merge(list(ctx.task_vectors.values()), density, merge_func)
    return add_scaled(ctx.pretrained, merged, scaling)
