"""Test-time adaptation on unlabelled test images, shared by AdaMerging and WeMoE.

Both learn merge coefficients by minimising the prediction entropy of each task's head on that
task's test images, H(x) = -sum_c p_c(x) log p_c(x), summed over tasks and averaged over a
batch. Labels are dropped on load, so no code path here can read them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neulig.merging.context import MergeContext
from neulig.models import Preprocess


def tower_inputs(module: nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The tower's normalised NCHW input for packed uint8 NHWC ``images``."""
    return Preprocess.for_tower(module)(images.to(device))


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the softmax entropy, -sum_c p_c log p_c."""
    logp = logits.log_softmax(dim=-1)
    return -(logp.exp() * logp).sum(dim=-1).mean()


class UnlabelledPools:
    """Per task, a seeded sample of ``pool`` preprocessed test images (labels discarded) and
    the task's head; :meth:`sample` draws one random batch per task, seeded by ``ctx.seed``."""

    def __init__(self, ctx: MergeContext, module: nn.Module, pool: int):
        self.inputs = {
            task: tower_inputs(module, ctx.batch(task, "test", pool)[0], ctx.device)
            for task in ctx.experts
        }
        self.heads = ctx.heads
        self.generator = torch.Generator().manual_seed(ctx.seed)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        out = {}
        for task, x in self.inputs.items():
            idx = torch.randperm(len(x), generator=self.generator)[:batch_size]
            out[task] = x[idx.to(x.device)]
        return out

    def entropy(
        self, features: Callable[[torch.Tensor], torch.Tensor], batches: dict | None = None
    ) -> dict[str, torch.Tensor]:
        """Per task, the mean entropy of its head on ``batches`` (default: the whole pool)."""
        batches = self.inputs if batches is None else batches
        return {task: entropy(self.heads[task](features(x))) for task, x in batches.items()}


def minimise_entropy(
    pools: UnlabelledPools,
    params: list[torch.Tensor],
    features: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
    batch_size: int,
) -> dict[str, float]:
    """Adam on ``params`` for ``steps`` steps of sum_t H_t(batch_t); returns the pooled mean
    entropy (over all tasks' whole pools) before and after, so the decrease can be checked.

    One backward per task, as in the original code: the gradients sum, only one task's graph
    is alive at a time. ``features`` must rebuild anything derived from ``params`` per call.
    """
    optimiser = torch.optim.Adam(params, lr=lr)
    with torch.enable_grad():
        before = _pooled(pools, features)
        for _ in range(steps):
            optimiser.zero_grad()
            for task, x in pools.sample(batch_size).items():
                pools.entropy(features, {task: x})[task].backward()
            optimiser.step()
        after = _pooled(pools, features)
    return {"initial": before, "final": after}


@torch.no_grad()
def _pooled(pools: UnlabelledPools, features) -> float:
    values = pools.entropy(features)
    return float(sum(values.values()) / len(values))
