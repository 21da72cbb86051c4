"""WeMoE: weight-ensembling mixture of experts in the MLPs (see :mod:`neulig.merging.wemoe`)."""

from __future__ import annotations

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict
from neulig.merging.wemoe import train

LABEL = "WeMoE"


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
