"""TIES merging (Yadav et al., 2023): trim, elect sign, disjoint merge, entry for entry as in
the original code (prateeksr/ties-merging, ``topk_values_mask`` / ``resolve_sign`` /
``disjoint_merge``)."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, add_scaled, flatten, unflatten

METHOD = MergeMethod(label="TIES merging", paper_rank=3)


def merge(
    ctx: MergeContext, scaling: float = 1.0, density: float = 0.2, merge_func: str = "mean"
) -> StateDict:
    """theta_0 + scaling * disjoint_merge(trim(tau), elected sign), over the flattened model.

    - Trim: with d entries, k = max(1, d - int(d * density)); keep every entry with
      |tau_t| >= the k-th smallest |tau_t|. Ties at that threshold are all kept, so at least
      int(d * density) + 1 entries survive (the original's off-by-one, kept on purpose);
      density >= 1 keeps all (the original would fail on kthvalue(0)).
    - Elect: s = sign(sum_t trimmed_t); entries with s = 0 take the majority sign
      sign(#{s > 0} - #{s < 0}) over the whole model; if that is 0 too they stay 0.
    - Disjoint merge: where s > 0 keep the trimmed_t > 0, elsewhere the trimmed_t < 0 (zeros
      are never kept); ``mean`` divides their sum by their count (at least 1), ``sum`` does not.

    Counterpart (:mod:`neulig.merging.levels`): none, TIES is merge-only in the paper.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0, density=0.2)
    """
    if merge_func not in ("mean", "sum"):
        raise ValueError(f"ties merge_func must be 'mean' or 'sum', not {merge_func!r}")
    keys = list(ctx.pretrained)
    flat = torch.stack([flatten(t, keys) for t in ctx.task_vectors.values()])
    d = flat.shape[1]
    k = max(1, d - int(d * density))
    thresholds = flat.abs().kthvalue(k, dim=1, keepdim=True).values
    trimmed = flat * (flat.abs() >= thresholds)
    sign = torch.sign(trimmed.sum(dim=0))
    sign[sign == 0] = torch.sign(sign.sum())
    selected = trimmed * torch.where(sign > 0, trimmed > 0, trimmed < 0)
    picked = selected.sum(dim=0)
    if merge_func == "mean":
        picked = picked / (selected != 0).sum(dim=0).clamp(min=1)
    return add_scaled(ctx.pretrained, unflatten(picked, ctx.pretrained), scaling)
