"""WeMoE: weight-ensembling mixture of experts in the MLPs (see :mod:`neulig.merging.wemoe`)."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.coefficients import Coefficients
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict
from neulig.merging.wemoe import forward_per_sample, train

METHOD = MergeMethod(label="WeMoE", paper_rank=8, counterpart=True, per_input=True)


def merge(
    ctx: MergeContext,
    init_lambda: float = 0.3,
    steps: int = 100,
    lr: float = 1e-3,
    batch_size: int = 16,
    pool: int = 128,
) -> StateDict:
    """Static part theta_0 + lambda_0 sum_k tau_k; MLPs W_0 + sum_k r_k(x) tau_k with learned
    per-block routers (entropy minimisation on ``pool`` unlabelled test images per task, Adam,
    ``steps`` steps of one ``batch_size`` batch per task; the original: 1000 steps, lr 1e-3).

    Returns the static model (MLPs at the mean routing weights) plus the routers under
    ``extra/wemoe_router.*``; :func:`neulig.merging.wemoe.forward_per_sample` runs the true
    per-input model. ``ctx.diagnostics`` holds the routing weights per task and block.
    """
    return train(ctx, init_lambda, steps, lr, batch_size, pool)


def forward_per_input(ctx: MergeContext, state: StateDict, images: torch.Tensor):
    """Every input through its own merged MLPs: features and routing weights [N, blocks, K]."""
    return forward_per_sample(ctx, state, images)


def coefficients(info: dict, tasks: list[str], routing: torch.Tensor | None = None) -> Coefficients:
    """Counterpart, per input: c_t(x) = mean over blocks of r_t(x), c_0(x) = 1 - sum_t c_t(x);
    ``routing`` is ``[N, blocks, K]`` in the merge's expert order (``info["coefficients"]
    ["experts"]``), from :func:`forward_per_input`."""
    if routing is None:
        raise ValueError("the WeMoE counterpart needs per-input routing weights: forward_per_input")
    order = info["coefficients"]["experts"]
    c = routing.mean(dim=1)[:, [order.index(t) for t in tasks]]
    return 1.0 - c.sum(dim=1), c
