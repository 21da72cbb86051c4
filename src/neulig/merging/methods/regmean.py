"""RegMean (Jin et al., ICLR 2023): per linear layer, the weights whose outputs best match
every expert's on that expert's own inputs, in closed form from the inputs' Gram matrices."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, mean
from neulig.merging.unlabelled import tower_inputs

METHOD = MergeMethod(label="RegMean", paper_rank=4)


def merge(
    ctx: MergeContext,
    alpha: float = 0.95,
    examples: int = 256,
    batch_size: int = 64,
    ridge: float = 1e-6,
) -> StateDict:
    """Per linear weight W (out x in): W^T = (sum_k G~_k + ridge I)^-1 sum_k G~_k W_k^T.

    G_k = (1/rows) sum_x x x^T over the token rows x entering the layer in expert k, run on
    ``examples`` images of task k's train split (labels unused); G~_k = alpha G_k +
    (1 - alpha) diag(G_k) shrinks the off-diagonals (FusionBench's CLIP default 0.95). The
    ridge guards against a singular sum when alpha = 1 and there are few tokens. Every other
    tensor (biases, norms, embeddings, the patch conv, ``visual.proj``, BatchNorm buffers) is
    the plain mean of the experts, as in FusionBench; so is a linear layer that no expert ran
    through as a module (ResNet's attention pool calls its projections functionally).

    open_clip's attention projections are applied functionally, so module hooks on them never
    fire: the attention module's pre-hook takes in_proj's input, and recomputes the attention
    output that feeds out_proj (see :func:`_attention_output`).

    Counterpart (:mod:`neulig.merging.levels`): none, RegMean is merge-only in the paper.
    """
    grams = {}
    for task, state in ctx.experts.items():
        images = ctx.batch(task, "train", examples)[0]
        grams[task] = gram_matrices(ctx.skeleton(state), images, ctx.device, batch_size)
    merged = mean(list(ctx.experts.values()))
    for key in set.intersection(*(set(g) for g in grams.values())):
        weights = [ctx.experts[task][key] for task in ctx.experts]
        merged[key] = solve(
            [_shrink(grams[task][key], alpha) for task in ctx.experts], weights, ridge
        )
    return merged


def _shrink(gram: torch.Tensor, alpha: float) -> torch.Tensor:
    return alpha * gram + (1.0 - alpha) * torch.diag(torch.diagonal(gram))


def solve(grams: list[torch.Tensor], weights: list[torch.Tensor], ridge: float) -> torch.Tensor:
    """W with W^T = (sum_k G_k + ridge I)^-1 sum_k G_k W_k^T, solved in float64."""
    total = sum(g.double() for g in grams)
    total = total + ridge * torch.eye(len(total), dtype=total.dtype, device=total.device)
    rhs = sum(g.double() @ w.double().to(g.device).T for g, w in zip(grams, weights, strict=True))
    return torch.linalg.solve(total, rhs).T.float().cpu()


class _Grams:
    """Running Gram matrices ``{weight key: (sum x x^T, rows)}`` fed by module hooks."""

    def __init__(self):
        self.sums: dict[str, list] = {}

    def add(self, key: str, x: torch.Tensor) -> None:
        rows = x.reshape(-1, x.shape[-1]).double()
        entry = self.sums.setdefault(key, [0.0, 0])
        entry[0] = entry[0] + rows.T @ rows
        entry[1] += len(rows)

    def means(self) -> dict[str, torch.Tensor]:
        return {k: (s / n).float() for k, (s, n) in self.sums.items()}


@torch.no_grad()
def gram_matrices(
    module: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """``{"<layer>.weight": G}`` for every linear layer of ``module`` that ``images`` reach."""
    grams = _Grams()
    handles = []
    attention = {n: m for n, m in module.named_modules() if isinstance(m, nn.MultiheadAttention)}
    inner = {f"{n}.out_proj" for n in attention}  # called functionally: handled by the MHA hook
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear) and name not in inner:
            hook = _linear_hook(grams, f"{name}.weight")
            handles.append(sub.register_forward_pre_hook(hook))
        elif name in attention and sub._qkv_same_embed_dim:
            hook = _attention_hook(grams, name)
            handles.append(sub.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        for i in range(0, len(images), batch_size):
            module(tower_inputs(module, images[i : i + batch_size], device))
    finally:
        for handle in handles:
            handle.remove()
    return grams.means()


def _linear_hook(grams: _Grams, key: str):
    def hook(_module, args):
        grams.add(key, args[0])

    return hook


def _attention_hook(grams: _Grams, name: str):
    def hook(mha: nn.MultiheadAttention, args, kwargs):
        query, key, value = (list(args) + [kwargs.get(k) for k in ("key", "value")])[:3]
        if key is not query or value is not query:
            return  # cross-attention: not the self-attention this Gram describes
        grams.add(f"{name}.in_proj_weight", query)
        grams.add(f"{name}.out_proj.weight", _attention_output(mha, query, kwargs))

    return hook


def _attention_output(mha: nn.MultiheadAttention, x: torch.Tensor, kwargs: dict) -> torch.Tensor:
    """The input of ``mha.out_proj``: softmax(q k^T / sqrt(d_h) + mask) v over heads, as
    ``nn.MultiheadAttention`` computes it in eval mode (no dropout; open_clip's towers pass
    no ``key_padding_mask``), tokens x width."""
    if not mha.batch_first:
        x = x.transpose(0, 1)
    n, tokens, width = x.shape
    heads = mha.num_heads
    qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
    q, k, v = qkv.view(n, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    mask = kwargs.get("attn_mask")
    if mask is not None and mask.dtype == torch.bool:  # MHA: True = blocked; SDPA: True = kept
        mask = torch.zeros_like(mask, dtype=x.dtype).masked_fill(mask, float("-inf"))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.transpose(1, 2).reshape(n, tokens, width)
