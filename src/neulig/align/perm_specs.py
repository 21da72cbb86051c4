"""Which spec and which activation sites a model has: ViT towers and ResNets."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from neulig.align.resnet_perms import register_resnet, resnet_spec, segments
from neulig.align.vit_hooks import register_vit
from neulig.align.vit_perms import PermSpec, vit_spec
from neulig.resnet import ResNet, layer_index


def spec_for(model: nn.Module) -> PermSpec:
    """The permutation spec of ``model`` (a :class:`ResNet` or an open_clip ViT tower)."""
    return resnet_spec(model) if isinstance(model, ResNet) else vit_spec(model)


def register_for(model: nn.Module) -> Callable:
    """``register(model, sink) -> handles``: the hooks that feed ``model``'s activation sites."""
    return register_resnet if isinstance(model, ResNet) else register_vit


def layer_of(model: nn.Module, key: str) -> int:
    """Depth of state key ``key``: 0 for the stem / embeddings, ``i + 1`` for block ``i``, one
    more for the head (the ``stop`` unit of partial zipping)."""
    if isinstance(model, ResNet):
        return layer_index(key)
    prefix = "transformer.resblocks."
    if key.startswith(prefix):
        return int(key.removeprefix(prefix).split(".")[0]) + 1
    before = ("conv1.", "class_embedding", "positional_embedding", "ln_pre.")
    return 0 if key.startswith(before) else len(model.transformer.resblocks) + 1


def split_point(model: nn.Module, stop: int) -> tuple[nn.Module, str, int]:
    """The module whose output is the residual stream after ``stop`` layers (stop >= 1), the
    residual perm there, and the stream's channel dimension."""
    if isinstance(model, ResNet):
        segment = 0 if stop == 1 else segments(model)[stop - 2]
        return model.layers[stop - 1], f"res.{segment}", 1
    module = model.ln_pre if stop == 1 else model.transformer.resblocks[stop - 2]
    return module, "res", -1  # ViT tokens are channel-last in either layout
