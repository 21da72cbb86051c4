"""TALL masks (Wang et al., ICML 2024): one model per task, the summed task vectors masked to
the entries that task needs; scored with task identity, so there is no single merged model."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.sparsify import tall_mask
from neulig.merging.state_dict import StateDict, weighted_sum

# per_task: the merge job scores each task with task_model(ctx, task); a searched tall_lambda
# is chosen per task on that task's val split, as the paper picks lambda_t.
METHOD = MergeMethod(label="TALL masks", per_task=True)


def task_model(ctx: MergeContext, task: str, tall_lambda: float = 0.6) -> StateDict:
    """theta_0 + m_t * tau_MTL for ``task`` = t, with tau_MTL = sum_t tau_t (scale 1, as in
    the paper) and m_t its TALL mask (:func:`neulig.merging.sparsify.tall_mask`).

    m_t depends on lambda_t alone, so each task's lambda can be picked on that task's val
    split: the paper searches {0.2, 0.3, 0.4, 0.5, 0.6}; the default is FusionBench's 0.6.

    Example:
        >>> theta_a = task_model(MergeContext(theta0, experts), "a", tall_lambda=0.6)
    """
    taus = ctx.task_vectors
    total = weighted_sum(list(taus.values()), [1.0] * len(taus))
    mask = tall_mask(taus[task], total, tall_lambda)
    return {k: ctx.pretrained[k].float() + mask[k] * total[k] for k in total}
