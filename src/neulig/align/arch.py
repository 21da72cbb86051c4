"""Which spec and which activation sites a model has: ViT towers and ResNets."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from neulig.align.resnet_spec import register_resnet, resnet_spec
from neulig.align.spec import PermSpec, vit_spec
from neulig.align.vit_hooks import register_vit
from neulig.resnet import ResNet


def spec_for(model: nn.Module) -> PermSpec:
    """The permutation spec of ``model`` (a :class:`ResNet` or an open_clip ViT tower)."""
    return resnet_spec(model) if isinstance(model, ResNet) else vit_spec(model)


def register_for(model: nn.Module) -> Callable:
    """``register(model, sink) -> handles``: the hooks that feed ``model``'s activation sites."""
    return register_resnet if isinstance(model, ResNet) else register_vit
