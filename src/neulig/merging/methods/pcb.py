"""PCB-Merging (Du et al., NeurIPS 2024): weight each task's entries by how much they matter
within the task (intra) and agree across tasks (inter), keep the top ones, average."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, add_scaled, flatten, unflatten

METHOD = MergeMethod(label="PCB-Merging")


@torch.no_grad()
def merge(
    ctx: MergeContext, scaling: float = 1.2, keep_ratio: float = 0.05, clip_ratio: float = 0.01
) -> StateDict:
    """theta_0 + scaling * sum_t tau~_t beta_t / max(sum_t beta_t, 1e-12), over the flattened
    model (every tensor) as the reference's vision script ``vision_source_code/pcb.py``:

    - tau~_t = sign(tau_t) * |tau_t| clipped to its row's sorted entries at int(d clip_ratio)
      and int(d (1 - clip_ratio) - 1) (d entries, 0-based);
    - N = row-wise min-max normalisation; intra_t = exp(T N(|tau~_t|)^2);
      inter_t = tanh(tau_t * sum_j sign(tau_j) N(|tau~_j|));
    - beta_t = N(intra_t * inter_t raised to its row's entry at int(d (1 - keep_ratio))), so
      the bottom of each row gets weight 0.

    A constant row normalises to 0 (the reference divides by zero). Defaults are that
    script's (lambda_t = 1.2 for every task, r = 0.05); the paper's optional evolutionary
    search of per-task lambdas in [0.8, 1.3] is not implemented.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.2, keep_ratio=0.05)
    """
    keys = list(ctx.pretrained)
    taus = torch.stack([flatten(t, keys) for t in ctx.task_vectors.values()])
    count, d = taus.shape
    magnitude = _clamp_rows(taus.abs(), int(d * clip_ratio), int(d * (1 - clip_ratio) - 1))
    normalised = _minmax_rows(magnitude)
    intra = torch.exp(count * normalised**2)
    inter = torch.tanh(taus * (taus.sign() * normalised).sum(dim=0))
    beta = _minmax_rows(_clamp_rows(intra * inter, int(d * (1 - keep_ratio)), d - 1))
    merged = (taus.sign() * magnitude * beta).sum(dim=0) / beta.sum(dim=0).clamp(min=1e-12)
    return add_scaled(ctx.pretrained, unflatten(merged, ctx.pretrained), scaling)


def _clamp_rows(x: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """Each row clamped between its ``low``-th and ``high``-th smallest entries (0-based);
    ``kthvalue`` spares the full sorts of ~10^8 entries per row."""
    lows = x.kthvalue(low + 1, dim=1, keepdim=True).values
    highs = x.kthvalue(high + 1, dim=1, keepdim=True).values
    return torch.clamp(x, lows, highs)


def _minmax_rows(x: torch.Tensor) -> torch.Tensor:
    low = x.amin(dim=1, keepdim=True)
    span = x.amax(dim=1, keepdim=True) - low
    return torch.where(span > 0, (x - low) / span.clamp(min=torch.finfo(x.dtype).tiny), 0.0)
