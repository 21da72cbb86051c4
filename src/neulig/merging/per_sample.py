"""Exact per-sample merging at ensemble cost, for open_clip ViT vision towers (ResNets:
:mod:`neulig.merging.per_sample_resnet`; :mod:`neulig.merging.per_sample_towers` picks one).

Every parameterised op of the tower is affine in its parameters, so running input i through
its merged network theta(beta_i) = sum_t beta_it theta_t equals, op by op,
sum_t beta_it op(h_i; theta_t), with h_i the merged network's own hidden state. The tower is
therefore re-run layer by layer with each weight matrix applied per input in one of two exact
ways (:class:`StackedAffine`); per-sample vectors (biases, LayerNorm affines, embeddings,
LayerScale) are mixed as cheap ``[B, ...]`` tensors. Unlike vmap over the whole network, no
input ever holds a full merged state: memory stays at activations plus at most one layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.transformer import PatchDropout, ResidualAttentionBlock, VisionTransformer
from torch import nn

Stacked = dict[str, torch.Tensor]
MODES = ("fold", "layerwise", "auto")


class StackedAffine:
    """``y_i = sum_t beta_it (W_t x_i + b_t)`` for weights ``[T, out, in]``.

    ``fold``: one GEMM over the experts' matrices, stored once as ``[out, T, in]`` (which reads
    both as ``[out, T*in]`` and ``[out*T, in]``). beta goes on the GEMM's narrower side: scaled
    input copies concatenated (``[M, T*in] @ [T*in, out]``) when ``in <= out``, else the
    experts' outputs side by side (``[M, in] @ [in, out*T]``) contracted with beta per input.
    T times a layer's FLOPs, no per-input weights: the right trade where FLOPs are cheap (GPU).

    ``layerwise``: this layer's per-input weights ``[B, out, in]`` from one ``[B, T] @ [T, in*out]``
    GEMM, then a batched matmul. (T + M) / (T * M) of fold's FLOPs (M = tokens, ~50), paid in
    memory traffic; it reads ``weight`` in place, so it adds no copy of the experts. Faster on
    CPU (benchmarks/per_sample.json).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, mode: str):
        n_experts, d_out, d_in = weight.shape
        self.d_in, self.d_out, self.mode = d_in, d_out, mode
        self.fold_input = d_in <= d_out
        if mode == "layerwise":
            self.weight = weight.reshape(n_experts, d_out * d_in)  # a view when contiguous
        else:  # row-block copies (no element transposes), in nn.Linear's [out, in] layout
            cat = weight.permute(1, 0, 2).contiguous()
            shape = (d_out, n_experts * d_in) if self.fold_input else (d_out * n_experts, d_in)
            self.weight = cat.view(shape)
        self.bias = bias

    def __call__(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        n, t = beta.shape
        lead = x.shape[1:-1]
        x = x.reshape(n, -1, self.d_in)
        m = x.shape[1]
        if self.mode == "layerwise":
            w = (beta @ self.weight).view(n, self.d_out, self.d_in)
            y = torch.bmm(x, w.transpose(1, 2))
        elif self.fold_input:
            xs = (x.unsqueeze(2) * beta.view(n, 1, t, 1)).reshape(n, m, t * self.d_in)
            y = F.linear(xs, self.weight)
        else:  # output column o*T + t is expert t's output o
            y = F.linear(x, self.weight).view(n, m * self.d_out, t)
            y = torch.bmm(y, beta.view(n, t, 1)).view(n, m, self.d_out)
        if self.bias is not None:
            y += (beta @ self.bias).unsqueeze(1)
        return y.view(n, *lead, self.d_out)


def _unsupported(module: nn.Module, why: str) -> NotImplementedError:
    return NotImplementedError(
        f"per-sample merging in linear form does not support {type(module).__name__}: {why}"
    )


def _check_tower(module: nn.Module) -> None:
    """Raise NotImplementedError unless ``module`` is a ViT tower whose forward we reproduce."""
    if type(module) is not VisionTransformer:
        raise _unsupported(module, "only open_clip VisionTransformer towers are implemented")
    if module.attn_pool is not None:
        raise _unsupported(module.attn_pool, "attentional pooling is not implemented")
    if module.training:
        raise _unsupported(module, "training mode (dropout, patch dropout): call .eval()")
    conv = module.conv1
    patchify = conv.stride == conv.kernel_size and conv.dilation == (1, 1)
    if not patchify or conv.padding not in ((0, 0), "valid") or conv.groups != 1:
        raise _unsupported(conv, "the patch embedding must be a non-overlapping unpadded conv")
    if not isinstance(module.patch_dropout, nn.Identity | PatchDropout):
        raise _unsupported(module.patch_dropout, "unknown patch dropout")
    norms = [module.ln_post] + ([] if isinstance(module.ln_pre, nn.Identity) else [module.ln_pre])
    for blk in module.transformer.resblocks:
        if type(blk) is not ResidualAttentionBlock or hasattr(blk, "ln_1_kv"):
            raise _unsupported(blk, "only self-attention ResidualAttentionBlocks are implemented")
        attn = blk.attn
        if not attn._qkv_same_embed_dim or attn.bias_k is not None or attn.add_zero_attn:
            raise _unsupported(attn, "needs a fused in_proj, no bias_k/bias_v, no zero attention")
        if list(dict(blk.mlp.named_children())) != ["c_fc", "gelu", "c_proj"]:
            raise _unsupported(blk.mlp, "expected c_fc -> activation -> c_proj")
        if any(True for _ in blk.mlp.gelu.parameters()):
            raise _unsupported(blk.mlp.gelu, "the activation must be parameter-free")
        norms += [blk.ln_1, blk.ln_2]
    for norm in norms:
        if not isinstance(norm, nn.LayerNorm) or len(norm.normalized_shape) != 1:
            raise _unsupported(norm, "norm layers must be LayerNorm over the last axis")


class PerSampleTower:
    """A ViT tower's experts, prepared once, evaluated with per-input merge coefficients.

    ``mode`` picks :class:`StackedAffine`'s strategy; ``auto`` is ``layerwise`` on CPU and
    ``fold`` elsewhere. ``fold`` keeps one extra copy of the experts' matrices.
    """

    def __init__(self, module: nn.Module, stacked: Stacked, mode: str = "auto"):
        _check_tower(module)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        first = next(iter(stacked.values()))
        self.mode = mode if mode != "auto" else "layerwise" if first.is_cpu else "fold"
        self.module = module
        self.dtype = first.dtype
        self.ops: dict[str, StackedAffine] = {}
        used = set()

        def affine(name: str, weight_key: str, bias_key: str | None, weight=None):
            weight = stacked[weight_key] if weight is None else weight
            bias = stacked.get(bias_key) if bias_key else None
            self.ops[name] = StackedAffine(weight, bias, self.mode)
            used.update(k for k in (weight_key, bias_key) if k in stacked)

        conv = stacked["conv1.weight"]
        affine("conv1", "conv1.weight", "conv1.bias", conv.flatten(2))
        if module.proj is not None:  # features = pooled @ proj, i.e. W = proj^T
            affine("proj", "proj", None, stacked["proj"].transpose(1, 2))
        for i in range(len(module.transformer.resblocks)):
            p = f"transformer.resblocks.{i}."
            affine(p + "in_proj", p + "attn.in_proj_weight", p + "attn.in_proj_bias")
            for name in ("attn.out_proj", "mlp.c_fc", "mlp.c_proj"):
                affine(p + name, p + name + ".weight", p + name + ".bias")
        # All remaining parameters are vectors mixed per input: one small GEMM per forward.
        self.vector_keys = [k for k in stacked if k not in used]
        self.vector_shapes = [stacked[k].shape[1:] for k in self.vector_keys]
        n_experts = conv.shape[0]
        self.vectors = torch.cat([stacked[k].reshape(n_experts, -1) for k in self.vector_keys], 1)
        self._check_vectors(module)

    def _check_vectors(self, module: nn.Module) -> None:
        """Every parameter we do not know how to apply would otherwise be silently dropped."""
        known = {"class_embedding", "positional_embedding"}
        names = {n: m for n, m in module.named_modules() if isinstance(m, nn.LayerNorm)}
        known |= {f"{n}.{p}" for n in names for p in ("weight", "bias")}
        known |= {k for k in self.vector_keys if k.endswith((".ls_1.gamma", ".ls_2.gamma"))}
        unknown = sorted(set(self.vector_keys) - known)
        if unknown:
            raise _unsupported(module, f"parameters {unknown[:5]} have no per-sample rule")

    def per_input_bytes(self) -> int:
        """Memory one input needs at a time (``ExpertStack`` sizes its chunks from it): the
        beta-scaled input / per-expert outputs (T * width, two live), the MLP hidden layer
        before and after the activation, a few width-sized residual temporaries and, in
        layerwise mode, one layer's weights."""
        n_experts = self.vectors.shape[0]
        tokens, width = self.module.positional_embedding.shape
        mlp = max(op.d_out for k, op in self.ops.items() if k.endswith("c_fc"))
        per_input = 4 * tokens * (2 * n_experts * width + 2 * mlp + 8 * width)
        if self.mode == "layerwise":
            per_input += 4 * max(op.d_in * op.d_out for op in self.ops.values())
        return per_input

    def _mix(self, beta: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = (beta @ self.vectors).split([s.numel() for s in self.vector_shapes], dim=1)
        return {
            k: v.view(len(beta), *s)
            for k, v, s in zip(self.vector_keys, flat, self.vector_shapes, strict=True)
        }

    def _norm(self, name: str, x: torch.Tensor, v: dict[str, torch.Tensor]) -> torch.Tensor:
        """LayerNorm with per-input affine: normalise once, then scale by sum_t beta_t gamma_t."""
        eps = self.module.get_submodule(name).eps
        x = F.layer_norm(x, x.shape[-1:], eps=eps)
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        gamma, bias = v.get(name + ".weight"), v.get(name + ".bias")
        if gamma is not None:  # absent for LayerNorm(elementwise_affine=False)
            x = x * gamma.view(shape)
        return x if bias is None else x + bias.view(shape)

    @staticmethod
    def _scale(key: str, x: torch.Tensor, v: dict[str, torch.Tensor]) -> torch.Tensor:
        """LayerScale (x * gamma) when the block has one; nn.Identity otherwise."""
        return x * v[key].unsqueeze(1) if key in v else x

    def _block(self, i: int, blk: nn.Module, h, beta, v) -> torch.Tensor:
        """open_clip ResidualAttentionBlock: pre-norm attention and MLP, each residual."""
        p = f"transformer.resblocks.{i}."
        n, tokens, width = h.shape
        heads = blk.attn.num_heads
        qkv = self.ops[p + "in_proj"](self._norm(p + "ln_1", h, v), beta)
        q, k, val = qkv.view(n, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
        # nn.MultiheadAttention in eval: softmax(q k^T / sqrt(head_dim)) v, no mask, no dropout.
        a = F.scaled_dot_product_attention(q, k, val).transpose(1, 2).reshape(n, tokens, width)
        h = h + self._scale(p + "ls_1.gamma", self.ops[p + "attn.out_proj"](a, beta), v)
        m = blk.mlp.gelu(self.ops[p + "mlp.c_fc"](self._norm(p + "ln_2", h, v), beta))
        return h + self._scale(p + "ls_2.gamma", self.ops[p + "mlp.c_proj"](m, beta), v)

    def __call__(self, betas: torch.Tensor, x: torch.Tensor):
        """Features of preprocessed images ``x`` ``[B, 3, H, W]`` under theta(betas[i])."""
        mod = self.module
        beta, x = betas.to(x.device, self.dtype), x.to(self.dtype)
        v = self._mix(beta)
        h = self.ops["conv1"](_patches(x, mod.conv1.kernel_size), beta)
        h = torch.cat([v["class_embedding"].unsqueeze(1), h], dim=1) + v["positional_embedding"]
        if not isinstance(mod.ln_pre, nn.Identity):
            h = self._norm("ln_pre", h, v)
        for i, blk in enumerate(mod.transformer.resblocks):
            h = self._block(i, blk, h, beta, v)
        # Pooling itself has no parameters: reuse the tower's own (tok/avg/none) rule.
        if mod.final_ln_after_pool:
            pooled, tokens = mod._global_pool(h)
            pooled = self._norm("ln_post", pooled, v)
        else:
            pooled, tokens = mod._global_pool(self._norm("ln_post", h, v))
        if mod.proj is not None:
            pooled = self.ops["proj"](pooled, beta)
        return (pooled, tokens) if mod.output_tokens else pooled


def _patches(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Non-overlapping patches ``[B, grid_h * grid_w, C * ph * pw]`` in the conv's order."""
    n, c, height, width = x.shape
    ph, pw = size
    gh, gw = height // ph, width // pw  # the strided conv drops any remainder too
    x = x[:, :, : gh * ph, : gw * pw].reshape(n, c, gh, ph, gw, pw)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c * ph * pw)


def stack_states(states: list[dict[str, torch.Tensor]], dtype=torch.float32) -> Stacked:
    """The experts' state dicts stacked on a leading expert axis."""
    return {k: torch.stack([sd[k].to(dtype) for sd in states]) for k in states[0]}
