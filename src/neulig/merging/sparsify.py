"""Elementwise sparsification of task vectors, shared by the methods that drop, trim or mask
entries (TIES, DARE, TALL / Consensus). All functions are pure and gradient-free."""

from __future__ import annotations

import torch

from neulig.merging.state_dict import StateDict, flatten, unflatten


@torch.no_grad()
def dare(taus: list[StateDict], drop_rate: float, seed: int) -> list[StateDict]:
    """DARE (Yu et al., 2024): every entry of every tau_t is dropped with probability
    ``drop_rate`` and the survivors are divided by 1 - drop_rate, so E[result] = tau_t.

    Draws: one ``torch.Generator`` seeded with ``seed``; task by task in list order, key by key
    in dict order, u = torch.rand(shape) and an entry survives where u >= drop_rate (so
    drop_rate = 0 keeps everything). Every tensor is sparsified, as FusionBench's default
    (``only_on_linear_weights=false``) and MergeLM do.
    """
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"DARE drop_rate must be in [0, 1), not {drop_rate}")
    generator = torch.Generator().manual_seed(seed)
    return [
        {
            k: v * (torch.rand(v.shape, generator=generator) >= drop_rate) / (1.0 - drop_rate)
            for k, v in tau.items()
        }
        for tau in taus
    ]


@torch.no_grad()
def ties_merge(taus: list[StateDict], density: float, merge_func: str) -> StateDict:
    """TIES's trim, elect and disjoint merge over the flattened model, entry for entry as in
    the original code (prateeksr/ties-merging, ``topk_values_mask`` / ``resolve_sign`` /
    ``disjoint_merge``); the result is unscaled.

    - Trim: with d entries, k = max(1, d - int(d * density)); keep every entry with
      |tau_t| >= the k-th smallest |tau_t|. Ties at that threshold are all kept, so at least
      int(d * density) + 1 entries survive (the original's off-by-one, kept on purpose);
      density >= 1 keeps all (the original would fail on kthvalue(0)).
    - Elect: s = sign(sum_t trimmed_t); entries with s = 0 take the majority sign
      sign(#{s > 0} - #{s < 0}) over the whole model; if that is 0 too they stay 0.
    - Disjoint merge: where s > 0 keep the trimmed_t > 0, elsewhere the trimmed_t < 0 (zeros
      are never kept); ``mean`` divides their sum by their count (at least 1), ``sum`` does not.
    """
    if merge_func not in ("mean", "sum"):
        raise ValueError(f"ties merge_func must be 'mean' or 'sum', not {merge_func!r}")
    keys = list(taus[0])
    flat = torch.stack([flatten(t, keys) for t in taus])
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
    return unflatten(picked, taus[0])


@torch.no_grad()
def tall_mask(tau: StateDict, total: StateDict, tall_lambda: float) -> StateDict:
    """TALL mask of one task (Wang et al., 2024): m_t = |tau_t| > lambda_t |tau_MTL - tau_t|,
    elementwise over every tensor, with ``total`` = tau_MTL = sum_t tau_t (unscaled): the
    entries where theta_t is closer to the multi-task model than to theta_0, by lambda_t."""
    return {k: tau[k].abs() > tall_lambda * (total[k] - tau[k]).abs() for k in tau}
