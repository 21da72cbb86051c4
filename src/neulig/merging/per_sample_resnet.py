"""Exact per-sample merging at ensemble cost, for open_clip ModifiedResNet towers.

Input i runs through theta(beta_i) = sum_t beta_it theta_t. Every parameterised op of the
tower is affine in its parameters, so it is applied per input without a merged state:

* conv (bias-free): ``conv(x_i; sum_t beta_it W_t) = sum_t beta_it conv(x_i; W_t)``
  (:class:`StackedConv`);
* eval BatchNorm: ``y = (x - mu_m) / sqrt(var_m + eps) * gamma_m + b_m`` with every statistic
  and affine the beta-weighted sum over experts (``mu_m = sum_t beta_it mu_t``, likewise
  ``var_m``, ``gamma_m``, ``b_m``). It is not linear in (mu, var, gamma) jointly, so the
  per-input scale and shift come from the merged vectors, never from mixing each expert's;
* the attention pool's q/k/v/c projections, like the ViT's (:class:`StackedAffine`), and its
  positional embedding, a per-input vector sum;
* ReLU and average pools have no parameters: the tower's own modules run as they are.
"""

from __future__ import annotations

from functools import cached_property

import torch
import torch.nn.functional as F
from open_clip.modified_resnet import AttentionPool2d, Bottleneck, ModifiedResNet
from torch import nn

from neulig.merging.per_sample import (
    MODES,
    PerSampleTower,
    Stacked,
    StackedAffine,
    _unsupported,
)

# Per-input weights cost a memory-bound mix of each conv's T expert kernels (plus a grouped conv
# that is slow on small maps); the stacked experts cost T times the conv's FLOPs. On CPU the
# former wins once positions * (T - 1) >= this. Measured (1 thread): a 3x3 512-channel conv
# at 7x7, T=5, breaks even; a 1x1 at 7x7 and everything at >= 14x14 favour per-input weights;
# the tiny RN's 2x2 and 4x4 maps run up to 10x faster stacked. Whole towers, T=5: RN50 3.9 s
# at 128 vs 4.5 s at 256 (batch 16); the tiny RN is flat over 64-1024 (batch 256).
LAYERWISE_MIN_WORK = 128
BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _pick(mode: str, positions: int, n_experts: int) -> str:
    if mode != "auto":
        return mode
    return "layerwise" if positions * (n_experts - 1) >= LAYERWISE_MIN_WORK else "fold"


class StackedConv:
    """``y_i = sum_t beta_it conv(x_i; W_t)``: a bias-free Conv2d, experts ``[T, out, in, k, k]``.

    ``layerwise``: input i's kernel ``sum_t beta_it W_t`` (one ``[B, T] @ [T, |W|]`` GEMM), then
    one grouped conv over the batch (a batched matmul for 1x1 convs: NCHW is already
    ``[B, in, HW]``). About one conv's FLOPs plus the mix. ``fold``: T times the FLOPs, no
    per-input kernels; beta on the narrower side as in :class:`StackedAffine`: scaled input
    copies against ``[out, T*in]`` kernels when ``in < out``, else the experts' outputs as
    ``T*out`` channels (a view of the stack) contracted with beta. ``auto`` picks per call from
    the map size (:data:`LAYERWISE_MIN_WORK`); the caller maps ``auto`` to ``fold`` on GPUs.
    """

    def __init__(self, conv: nn.Conv2d, weight: torch.Tensor, mode: str):
        self.conv, self.weight, self.mode = conv, weight, mode
        self.n_experts, self.d_out, self.d_in = weight.shape[:3]
        self.pointwise = conv.kernel_size == (1, 1) and conv.stride == (1, 1)
        self.pointwise = self.pointwise and conv.padding in ((0, 0), "valid")

    @cached_property
    def _fold_input_weight(self) -> torch.Tensor:
        w = self.weight
        return w.transpose(0, 1).reshape(self.d_out, self.n_experts * self.d_in, *w.shape[3:])

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
        c = self.conv
        return F.conv2d(x, weight, None, c.stride, c.padding, c.dilation, groups)

    def __call__(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        n, t = beta.shape
        height, width = x.shape[2:]
        mode = _pick(self.mode, height * width, t)
        if mode == "layerwise":
            w = (beta @ self.weight.view(t, -1)).view(n * self.d_out, *self.weight.shape[2:])
            if self.pointwise:
                y = torch.bmm(w.view(n, self.d_out, self.d_in), x.reshape(n, self.d_in, -1))
                return y.view(n, self.d_out, height, width)
            y = self._conv(x.reshape(1, n * self.d_in, height, width), w, groups=n)
            return y.view(n, self.d_out, *y.shape[2:])
        if self.d_in < self.d_out:
            xs = (x.unsqueeze(1) * beta.view(n, t, 1, 1, 1)).flatten(1, 2)
            return self._conv(xs, self._fold_input_weight)
        y = self._conv(x, self.weight.flatten(0, 1))  # channel t*out + o: expert t's output o
        return torch.bmm(beta.unsqueeze(1), y.view(n, t, -1)).view(n, self.d_out, *y.shape[2:])


def _check_resnet(module: nn.Module) -> None:
    """Raise NotImplementedError unless ``module`` is a ModifiedResNet we reproduce exactly."""
    if type(module) is not ModifiedResNet or type(module.attnpool) is not AttentionPool2d:
        raise _unsupported(module, "only open_clip ModifiedResNet towers are implemented")
    if module.training:
        raise _unsupported(module, "training mode (batch statistics): call .eval()")
    for layer in (module.layer1, module.layer2, module.layer3, module.layer4):
        for blk in layer:
            down = blk.downsample
            odd_shortcut = down is not None and list(down._modules) != ["-1", "0", "1"]
            if type(blk) is not Bottleneck or odd_shortcut:
                raise _unsupported(blk, "only open_clip Bottleneck blocks are implemented")
    for m in module.modules():
        plain = isinstance(m, nn.Conv2d) and m.bias is None and m.groups == 1
        if isinstance(m, nn.Conv2d) and not (plain and m.padding_mode == "zeros"):
            raise _unsupported(m, "convolutions must be bias-free, ungrouped, zero-padded")
        if isinstance(m, nn.modules.batchnorm._NormBase):
            if type(m) is not nn.BatchNorm2d or not m.track_running_stats:
                raise _unsupported(m, "norms must be BatchNorm2d with running statistics")


def _one_token(weight: torch.Tensor, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``y_i = sum_t beta_it W_t x_i`` for one token per input (``x``: ``[B, in]``).

    With a single token, per-input matrices would cost as much to mix as to apply: the experts'
    outputs (``[T, out, in] @ [in, B]``, the stack read in place) contracted with beta is cheaper.
    """
    return torch.einsum("ton,nt->no", torch.matmul(weight, x.T), beta)


class PerSampleResNet(PerSampleTower):
    """A ModifiedResNet tower's experts, evaluated with per-input merge coefficients.

    Built by :func:`neulig.merging.per_sample_towers.per_sample_tower` for ResNets. ``mode``:
    ``fold``/``layerwise`` as in :class:`StackedConv` for every conv and projection; ``auto``
    chooses per layer on CPU (from its map or token count) and is ``fold`` elsewhere.
    """

    def __init__(self, module: nn.Module, stacked: Stacked, mode: str = "auto"):
        _check_resnet(module)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        first = stacked["conv1.weight"]
        self.mode = "fold" if mode == "auto" and not first.is_cpu else mode
        self.module, self.dtype = module, first.dtype
        self.convs = {
            n: StackedConv(m, stacked[n + ".weight"], self.mode)
            for n, m in module.named_modules()
            if isinstance(m, nn.Conv2d)
        }
        used = {n + ".weight" for n in self.convs}
        pool, n_experts = "attnpool.", first.shape[0]
        kv_mode = _pick(self.mode, module.attnpool.positional_embedding.shape[0], n_experts)
        self.kv = {}
        for p in (pool + "k_proj.", pool + "v_proj."):
            self.kv[p] = StackedAffine(stacked[p + "weight"], stacked[p + "bias"], kv_mode)
            used |= {p + "weight", p + "bias"}
        self.one_token = {p: stacked[p + ".weight"] for p in (pool + "q_proj", pool + "c_proj")}
        used |= {p + ".weight" for p in self.one_token}
        # BatchNorm vectors, the q/c biases and the positional embedding are mixed per input
        # in one small GEMM; the batch counters only matter in training.
        skip = used | {k for k in stacked if k.endswith(".num_batches_tracked")}
        self.vector_keys = [k for k in stacked if k not in skip]
        self.vector_shapes = [stacked[k].shape[1:] for k in self.vector_keys]
        self.vectors = torch.cat([stacked[k].reshape(n_experts, -1) for k in self.vector_keys], 1)
        self._check_vectors(module)

    def _check_vectors(self, module: nn.Module) -> None:
        """Every parameter we do not know how to apply would otherwise be silently dropped."""
        known = {"attnpool.positional_embedding", "attnpool.q_proj.bias", "attnpool.c_proj.bias"}
        norms = [n for n, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)]
        known |= {f"{n}.{k}" for n in norms for k in BN_KEYS}
        unknown = sorted(set(self.vector_keys) - known)
        if unknown:
            raise _unsupported(module, f"parameters {unknown[:5]} have no per-sample rule")

    def per_input_bytes(self) -> int:
        """Memory one input needs at a time: a few of the largest maps (the stem's output, as
        large as layer1's), T of them in fold mode, and in layerwise mode the largest kernel."""
        mod = self.module
        largest = mod.conv3.out_channels * (mod.image_size // 2) ** 2
        floats = (6 + self.vectors.shape[0]) * largest
        if self.mode != "fold":
            floats += max(c.weight[0].numel() for c in self.convs.values())
        return 4 * floats

    def _conv_bn(self, conv: str, norm: str, x, beta, v) -> torch.Tensor:
        """Conv, then eval BatchNorm with per-input merged statistics and affine:
        ``scale_i = gamma_m / sqrt(var_m + eps)``, ``shift_i = b_m - mu_m * scale_i``."""
        x = self.convs[conv](x, beta)
        scale = torch.rsqrt(v[norm + ".running_var"] + self.module.get_submodule(norm).eps)
        if norm + ".weight" in v:  # absent for BatchNorm2d(affine=False)
            scale = scale * v[norm + ".weight"]
        shift = -v[norm + ".running_mean"] * scale
        if norm + ".bias" in v:
            shift = shift + v[norm + ".bias"]
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])

    def _bottleneck(self, p: str, blk: nn.Module, x, beta, v) -> torch.Tensor:
        """open_clip Bottleneck: 1x1, 3x3, (avg-pool), 1x1, plus an avg-pool + 1x1 shortcut."""
        out = blk.act1(self._conv_bn(p + "conv1", p + "bn1", x, beta, v))
        out = blk.avgpool(blk.act2(self._conv_bn(p + "conv2", p + "bn2", out, beta, v)))
        out = self._conv_bn(p + "conv3", p + "bn3", out, beta, v)
        if blk.downsample is not None:
            pooled = blk.downsample.get_submodule("-1")(x)
            x = self._conv_bn(p + "downsample.0", p + "downsample.1", pooled, beta, v)
        return blk.act3(out + x)

    def _attnpool(self, x: torch.Tensor, beta, v) -> torch.Tensor:
        """AttentionPool2d: tokens = [mean, pixels] + pos; it returns only the mean token's
        attention output, so only that token needs a query and the output projection."""
        pool, p = self.module.attnpool, "attnpool."
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([x.mean(1, keepdim=True), x], 1) + v[p + "positional_embedding"]
        n, tokens, width = x.shape
        heads = pool.num_heads
        q = _one_token(self.one_token[p + "q_proj"], x[:, 0], beta) + v[p + "q_proj.bias"]
        k, val = (
            self.kv[p + name](x, beta).view(n, tokens, heads, -1).transpose(1, 2)
            for name in ("k_proj.", "v_proj.")
        )
        # F.multi_head_attention_forward in eval: softmax(q k^T / sqrt(head_dim)) v, no mask.
        a = F.scaled_dot_product_attention(q.view(n, heads, 1, -1), k, val).reshape(n, width)
        return _one_token(self.one_token[p + "c_proj"], a, beta) + v[p + "c_proj.bias"]

    def __call__(self, betas: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Features of preprocessed images ``x`` ``[B, 3, H, W]`` under theta(betas[i])."""
        mod = self.module
        beta, x = betas.to(x.device, self.dtype), x.to(self.dtype)
        v = self._mix(beta)
        for i in (1, 2, 3):
            x = mod.get_submodule(f"act{i}")(self._conv_bn(f"conv{i}", f"bn{i}", x, beta, v))
        x = mod.avgpool(x)
        for i, layer in enumerate((mod.layer1, mod.layer2, mod.layer3, mod.layer4), 1):
            for j, blk in enumerate(layer):
                x = self._bottleneck(f"layer{i}.{j}.", blk, x, beta, v)
        return self._attnpool(x, beta, v)
