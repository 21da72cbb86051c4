"""Consensus merging with task arithmetic (Wang et al., ICML 2024): keep the entries of the
summed task vectors that at least k tasks' TALL masks select."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.sparsify import tall_mask
from neulig.merging.state_dict import StateDict, add_scaled, weighted_sum

METHOD = MergeMethod(label="Consensus TA")


def merge(
    ctx: MergeContext,
    scaling: float = 0.3,
    tall_lambda: float | dict[str, float] = 0.6,
    k: int = 2,
) -> StateDict:
    """theta_0 + scaling * (1[sum_t m_t >= k] * tau_MTL), with tau_MTL = sum_t tau_t and m_t
    the TALL masks (:func:`neulig.merging.sparsify.tall_mask`) over every tensor.

    k = 2 drops the "selfish" entries (one task) and the "catastrophic" ones (none); k = 0
    is task arithmetic. ``tall_lambda`` is one lambda for all tasks (FusionBench's 0.6) or
    one per task (the paper picks each from {0.2, ..., 0.6} by that task's TALL val
    accuracy); the paper searches ``scaling`` in {0.1, ..., 1.0}, the default is TA's 0.3.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=0.3, tall_lambda=0.6, k=2)
    """
    taus = ctx.task_vectors
    lambdas = tall_lambda if isinstance(tall_lambda, dict) else dict.fromkeys(taus, tall_lambda)
    total = weighted_sum(list(taus.values()), [1.0] * len(taus))
    votes = {key: torch.zeros_like(v, dtype=torch.int32) for key, v in total.items()}
    for task, tau in taus.items():
        for key, mask in tall_mask(tau, total, lambdas[task]).items():
            votes[key] += mask
    consensus = {key: total[key] * (votes[key] >= k) for key in total}
    return add_scaled(ctx.pretrained, consensus, scaling)
