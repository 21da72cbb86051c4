"""Fisher merging (Matena & Raffel, NeurIPS 2022): an elementwise average of the experts'
parameters weighted by each expert's diagonal Fisher information."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, mean
from neulig.merging.unlabelled import tower_inputs

METHOD = MergeMethod(label="Fisher merging", paper_rank=5)


def merge(ctx: MergeContext, examples: int = 64, eps: float = 1e-6) -> StateDict:
    """theta_j = sum_k (F_kj + eps) theta_kj / sum_k (F_kj + eps) for every parameter entry j.

    F_k is expert k's diagonal empirical Fisher on ``examples`` images of its task's train
    split, with one gradient per example:
    F_k = (1/N) sum_n (grad_theta log p_k(y_n | x_n))^2, p_k = softmax(head_k(f(x; theta_k))).
    Per-example gradients, not FusionBench's square of a batch-summed gradient (which keeps
    cross terms between examples); the train label y_n rather than an expectation over the
    model's classes, which would cost one backward per class. No per-model normalisation of
    the Fishers (FusionBench's ``normalize_fisher_weight``). Buffers (BatchNorm statistics)
    are plain means.

    Counterpart (:mod:`neulig.merging.levels`): none, Fisher merging is merge-only.
    """
    merged = mean(list(ctx.experts.values()))
    fishers = {task: diagonal_fisher(ctx, task, examples) for task in ctx.experts}
    for name in next(iter(fishers.values())):
        weights = [fishers[task][name] + eps for task in ctx.experts]
        total = sum(
            w * ctx.experts[task][name].float()
            for w, task in zip(weights, ctx.experts, strict=True)
        )
        merged[name] = total / sum(weights)
    return merged


def diagonal_fisher(ctx: MergeContext, task: str, examples: int) -> dict[str, torch.Tensor]:
    """``{parameter name: F}`` of expert ``task`` (see :func:`merge`), on the CPU."""
    module = ctx.skeleton(ctx.experts[task])
    params = dict(module.named_parameters())
    images, labels = ctx.batch(task, "train", examples)
    head = ctx.heads[task]
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    with torch.enable_grad():
        for i in range(len(labels)):
            x = tower_inputs(module, images[i : i + 1], ctx.device)
            log_p = head(module(x)).log_softmax(dim=-1)[0, int(labels[i])]
            grads = torch.autograd.grad(log_p, list(params.values()), allow_unused=True)
            for name, g in zip(params, grads, strict=True):
                if g is not None:  # a parameter the output does not depend on has F = 0
                    fisher[name] += g.square()
    return {n: (f / max(1, len(labels))).cpu() for n, f in fisher.items()}
