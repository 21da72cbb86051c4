"""Activation sites of open_clip's ``VisionTransformer``: what each perm's S_a is computed on."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

Sink = Callable[[str, torch.Tensor], None]


def _batch_first(x: torch.Tensor, batch_first: bool) -> torch.Tensor:
    return x if batch_first else x.transpose(0, 1)


def _attention_hook(
    sink: Sink, index: int, attn: nn.MultiheadAttention, args: tuple, kwargs: dict
) -> None:
    """Emit block ``index``'s keys and per-head attention outputs (before ``out_proj``).

    ``nn.MultiheadAttention`` applies ``out_proj`` functionally, so no hook can see its input:
    attention is recomputed here from the module's own input.
    """
    if kwargs.get("attn_mask") is not None or len(args) > 3:
        raise ValueError("activation statistics support unmasked self-attention only")
    x = _batch_first(args[0], attn.batch_first)
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    sink(f"qk.{index}", k)
    batch, tokens, width = x.shape
    heads = [t.reshape(batch, tokens, attn.num_heads, -1).transpose(1, 2) for t in (q, k, v)]
    out = F.scaled_dot_product_attention(*heads)
    sink(f"v.{index}", out.transpose(1, 2).reshape(batch, tokens, width))


def register_vit(visual: nn.Module, sink: Sink) -> list[torch.utils.hooks.RemovableHandle]:
    """Hooks that feed every matching site of ``visual`` to ``sink`` as batch-first tensors."""
    handles = []
    for i, block in enumerate(visual.transformer.resblocks):
        first = block.attn.batch_first
        handles += [
            block.register_forward_hook(
                lambda _m, _a, out, i=i, bf=first: sink(f"res#{i}", _batch_first(out, bf))
            ),
            block.attn.register_forward_pre_hook(
                partial(_attention_hook, sink, i), with_kwargs=True
            ),
            block.mlp.c_proj.register_forward_pre_hook(
                lambda _m, args, i=i, bf=first: sink(f"mlp.{i}", _batch_first(args[0], bf))
            ),
        ]
    return handles
