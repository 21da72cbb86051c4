"""TIES merging (Yadav et al., 2023): trim, elect sign, disjoint merge."""

from __future__ import annotations

import torch

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, add_scaled, flatten, unflatten

LABEL = "TIES merging"


def merge(
    ctx: MergeContext, scaling: float = 1.0, density: float = 0.2, merge_func: str = "mean"
) -> StateDict:
    """Trim each tau to its top-``density`` entries by magnitude (over the whole flattened
    model), elect a sign per entry from the trimmed sum, then take the disjoint mean (or sum)
    of the entries that agree with it.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0, density=0.2)
    """
    if merge_func not in ("mean", "sum"):
        raise ValueError(f"ties merge_func must be 'mean' or 'sum', not {merge_func!r}")
    keys = list(ctx.pretrained)
    flat = torch.stack([flatten(t, keys) for t in ctx.task_vectors.values()])
    k_keep = max(1, int(round(density * flat.shape[1])))
    thresholds = flat.abs().kthvalue(flat.shape[1] - k_keep + 1, dim=1, keepdim=True).values
    trimmed = torch.where(flat.abs() >= thresholds, flat, torch.zeros_like(flat))
    sign = torch.sign(trimmed.sum(dim=0))
    agree = (torch.sign(trimmed) == sign) & (trimmed != 0)
    picked = torch.where(agree, trimmed, torch.zeros_like(trimmed)).sum(dim=0)
    if merge_func == "mean":
        picked = picked / agree.sum(dim=0).clamp(min=1)
    return add_scaled(ctx.pretrained, unflatten(picked, ctx.pretrained), scaling)
