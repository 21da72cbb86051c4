"""EMR-Merging (Huang et al., NeurIPS 2024): elect one unified task vector, then per task a
mask and a rescaler; scored with task identity, so there is no single merged model."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict

# per_task: no hyper-parameters, no data; the merge job scores each task with its own model.
METHOD = MergeMethod(label="EMR-Merging", per_task=True)


@torch.no_grad()
def elect(taus: dict[str, StateDict]) -> tuple[StateDict, dict[str, StateDict], dict[str, float]]:
    """``(tau_uni, {task: M_t}, {task: lambda_t})`` over every tensor, as the reference code:

    - gamma = sign(sum_t tau_t), with 0 taken as -1;
    - M_t = 1[tau_t * gamma > 0];
    - tau_uni = gamma * max_t |M_t * tau_t|;
    - lambda_t = sum_keys mean|tau_t| / sum_keys mean|M_t * tau_uni| (a sum of per-tensor
      means, not one L1 ratio over the model).
    """
    first = next(iter(taus.values()))
    gamma = {k: torch.where(sum(t[k] for t in taus.values()) > 0, 1.0, -1.0) for k in first}
    masks = {task: {k: tau[k] * gamma[k] > 0 for k in tau} for task, tau in taus.items()}
    unified = {
        k: gamma[k] * torch.stack([(tau[k] * masks[t][k]).abs() for t, tau in taus.items()]).amax(0)
        for k in first
    }
    rescalers = {
        task: float(
            sum(tau[k].abs().mean() for k in tau)
            / sum((unified[k] * masks[task][k]).abs().mean() for k in tau)
        )
        for task, tau in taus.items()
    }
    return unified, masks, rescalers


def task_model(ctx: MergeContext, task: str) -> StateDict:
    """theta_0 + lambda_t * M_t * tau_uni for ``task`` = t (see :func:`elect`; no
    hyper-parameters, no data). Each call repeats the election, elementwise and cheap.

    Example:
        >>> theta_a = task_model(MergeContext(theta0, experts), "a")
    """
    unified, masks, rescalers = elect(ctx.task_vectors)
    return {
        k: ctx.pretrained[k].float() + rescalers[task] * masks[task][k] * unified[k]
        for k in unified
    }
