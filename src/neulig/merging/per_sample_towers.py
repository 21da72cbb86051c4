"""The per-sample form of any supported tower: open_clip ViTs (:mod:`neulig.merging.per_sample`)
and ModifiedResNets (:mod:`neulig.merging.per_sample_resnet`)."""

from __future__ import annotations

import torch
from open_clip.modified_resnet import ModifiedResNet
from torch import nn

from neulig.merging.per_sample import PerSampleTower, Stacked
from neulig.merging.per_sample_resnet import PerSampleResNet


def per_sample_tower(module: nn.Module, stacked: Stacked, mode: str = "auto") -> PerSampleTower:
    """``module``'s experts (``stacked``), prepared once for per-input merge coefficients.

    Raises:
        NotImplementedError: ``module`` is not a ViT or ResNet tower this form reproduces.
    """
    cls = PerSampleResNet if isinstance(module, ModifiedResNet) else PerSampleTower
    return cls(module, stacked, mode)


@torch.no_grad()
def linear_per_sample(
    module: nn.Module,
    stacked: Stacked,
    betas: torch.Tensor,
    x: torch.Tensor,
    mode: str = "auto",
) -> torch.Tensor:
    """Features of ``x`` ``[B, 3, H, W]`` where input i runs through theta(betas[i]).

    ``stacked`` maps each parameter name of ``module`` to its ``[T, ...]`` stack over experts;
    ``module`` only supplies the structure and config (heads, eps, pooling), never weights.
    ``mode``: see :class:`~neulig.merging.per_sample.PerSampleTower`.
    """
    return per_sample_tower(module, stacked, mode)(betas, x)
