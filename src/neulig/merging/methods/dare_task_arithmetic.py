"""DARE + task arithmetic (Yu et al., ICML 2024): drop and rescale each task vector, then add
their scaled sum."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.coefficients import Coefficients, hparam, static
from neulig.merging.context import MergeContext
from neulig.merging.sparsify import dare
from neulig.merging.state_dict import StateDict, add_scaled, weighted_sum

METHOD = MergeMethod(label="DARE + task arithmetic", counterpart=True)


def merge(ctx: MergeContext, scaling: float = 0.3, drop_rate: float = 0.5) -> StateDict:
    """theta_0 + scaling * sum_t dare(tau_t), with the masks drawn from ``ctx.seed`` (see
    :func:`neulig.merging.sparsify.dare`); defaults from FusionBench's
    ``dare/task_arithmetic.yaml`` (no CLIP values are published). drop_rate = 0 is task
    arithmetic, and so is every draw in expectation.

    Example:
        >>> merged = merge(MergeContext(theta0, experts, seed=0), scaling=0.3, drop_rate=0.5)
    """
    taus = dare(list(ctx.task_vectors.values()), drop_rate, ctx.seed)
    return add_scaled(ctx.pretrained, weighted_sum(taus, [1.0] * len(taus)), scaling)


def coefficients(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """Counterpart: as task arithmetic's with DARE's own lambda (c_0 = 1 - lambda T, c_t =
    lambda); drop-and-rescale keeps each task vector's expectation, so the twin is exact in
    expectation over the drop masks."""
    return static([float(hparam(merge, info, "scaling"))] * len(tasks))
