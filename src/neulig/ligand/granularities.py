"""NeuLig's parameter-level granularities: which merge coefficients each input runs under.

- ``per_sample``: input i runs through theta(beta(x_i)), its own merged network;
- ``batch_first`` / ``batch_mean``: one merged network per batch of ``batch_size`` test inputs,
  from the batch's first input's beta (the original code's rule) or the batch's mean beta;
  batches follow the stored order or, as the original's shuffled test loaders, a seeded
  permutation (a class-sorted split would otherwise give single-class batches);
- ``per_task``: one static network per task, from the mean beta of the task's *val* inputs;
- ``global``: one static network for every task, from the mean beta over all val inputs.
Static coefficients come from val, never test, so they are a fair deployed model.
"""

from __future__ import annotations

import torch

from neulig.records import GRANULARITIES


def static_betas(
    val_betas: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-task coefficients (each task's val mean) and the global ones (mean over every val
    input, so a task with more val inputs weighs more)."""
    per_task = {task: b.mean(dim=0) for task, b in val_betas.items()}
    return per_task, torch.cat(list(val_betas.values())).mean(dim=0)


def batch_beta(betas: torch.Tensor, rule: str) -> torch.Tensor:
    """One batch's coefficients: its first input's (``first``) or the mean (``mean``)."""
    if rule == "first":
        return betas[0]
    if rule == "mean":
        return betas.mean(dim=0)
    raise ValueError(f"per-batch rule must be 'first' or 'mean', not {rule!r}")


def merged_features(
    stack,
    granularity: str,
    images: torch.Tensor,
    betas: torch.Tensor,
    task_beta: torch.Tensor,
    global_beta: torch.Tensor,
    batch_size: int,
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """Features of ``images`` (one task's test inputs, with router coefficients ``betas``)
    under ``granularity``, computed by an :class:`~neulig.dynamic_merge.ExpertStack`, in the
    inputs' order. ``order``: the permutation the per-batch granularities batch (stored order
    when None)."""
    if granularity == "per_sample":
        return stack.forward_per_sample(betas, images)
    if granularity in ("batch_first", "batch_mean"):
        rule = granularity.removeprefix("batch_")
        order = torch.arange(len(images)) if order is None else order
        features = torch.cat(
            [
                stack.forward_static(batch_beta(betas[idx], rule), images[idx])
                for idx in order.split(batch_size)
            ]
        )
        return features[order.argsort()]
    if granularity == "per_task":
        return stack.forward_static(task_beta, images)
    if granularity == "global":
        return stack.forward_static(global_beta, images)
    raise ValueError(f"unknown NeuLig granularity {granularity!r}; known: {GRANULARITIES}")
