"""WeMoE (Tang et al., ICML 2024): weight-ensembling mixture of experts in every MLP.

Outside the MLPs the model is task arithmetic, theta_0 + lambda_0 sum_k tau_k. Each
transformer block's MLP (c_fc and c_proj, weights and biases) becomes, per input x,
W(x) = W_0 + sum_k r_k(x) tau_k^MLP, with r(x) = mean over tokens of
router(h) = Linear_{d->K}(ReLU(Linear_{d->d}(h))) on the MLP's input tokens h (after ln_2).
Routers start at fc1 ~ N(0, 0.01^2), fc2 ~ N(0, 0.01^2) with bias lambda_0, i.e. at task
arithmetic, and are the only trained parameters: entropy minimisation on unlabelled test images
(:mod:`neulig.merging.unlabelled`). No softmax: r_k may leave [0, 1], as in the original.

A single state dict cannot hold a per-input model, so a WeMoE checkpoint holds
- the static model: task arithmetic outside the MLPs, each MLP at W_0 + sum_k rbar_k tau_k with
  rbar the block's routing weights averaged over the training images (loads as a plain tower);
- the routers, under ``extra/wemoe_router.<block>.<router key>``
  (:data:`neulig.models.EXTRA_PREFIX`).
The true per-input model needs theta_0 and the task vectors again: :func:`forward_per_sample`.
Expert k is the k-th task of ``ctx.experts``.
"""

from __future__ import annotations

import torch
from torch import nn

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict
from neulig.merging.unlabelled import UnlabelledPools, minimise_entropy, tower_inputs
from neulig.models import EXTRA_PREFIX, split_extra

ROUTER = "wemoe_router."
MLP_KEYS = ("c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias")


def new_router(
    width: int, n_experts: int, init_lambda: float, generator: torch.Generator
) -> nn.Sequential:
    """fc2(ReLU(fc1(h))) with small random weights and fc2's bias at ``init_lambda``."""
    router = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_experts))
    for layer in (router[0], router[2]):
        nn.init.normal_(layer.weight, std=0.01, generator=generator)
    nn.init.zeros_(router[0].bias)
    nn.init.constant_(router[2].bias, init_lambda)
    return router


class MoEMLP(nn.Module):
    """An open_clip MLP whose weights are W_0 + sum_k r_k(x) tau_k per input x.

    ``base`` maps :data:`MLP_KEYS` to theta_0's tensors, ``taus`` to ``[K, ...]`` stacks of
    the task vectors. Each input gets its own merged matrices (a batched matmul), exactly the
    per-sample merged model. :attr:`weights` keeps the last forward's r, ``[B, K]``.
    """

    def __init__(self, base: StateDict, taus: StateDict, act: nn.Module, router, batch_first):
        super().__init__()
        for key in MLP_KEYS:
            name = key.replace(".", "_")
            self.register_buffer(f"base_{name}", base[key])
            self.register_buffer(f"tau_{name}", taus[key])
        self.act, self.router, self.batch_first = act, router, batch_first
        self.weights: torch.Tensor | None = None

    def _linear(self, x: torch.Tensor, r: torch.Tensor, layer: str) -> torch.Tensor:
        w = getattr(self, f"base_{layer}_weight") + torch.einsum(
            "bk,koi->boi", r, getattr(self, f"tau_{layer}_weight")
        )
        b = getattr(self, f"base_{layer}_bias") + r @ getattr(self, f"tau_{layer}_bias")
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.batch_first else x.transpose(0, 1)  # [B, tokens, width]
        r = self.router(h).mean(dim=1)
        self.weights = r
        out = self._linear(self.act(self._linear(h, r, "c_fc")), r, "c_proj")
        return out if self.batch_first else out.transpose(0, 1)


def _blocks(module: nn.Module) -> list[nn.Module]:
    transformer = getattr(module, "transformer", None)
    if transformer is None:
        raise NotImplementedError("WeMoE needs a transformer tower (open_clip ViT), not a ResNet")
    return list(transformer.resblocks)


def build(
    ctx: MergeContext, state: StateDict, routers: StateDict | None, init_lambda: float = 0.3
) -> tuple[nn.Module, list[MoEMLP]]:
    """The WeMoE tower: ``state`` (tower weights) outside the MLPs, :class:`MoEMLP` inside.

    ``routers`` are the extras of a WeMoE checkpoint (``wemoe_router.*``); None starts new
    routers (seeded by ``ctx.seed``) with fc2's bias at ``init_lambda``.
    """
    module = ctx.skeleton(state)
    tasks = list(ctx.experts)
    batch_first = getattr(module.transformer, "batch_first", True)
    generator = torch.Generator().manual_seed(ctx.seed)
    moes = []
    for i, blk in enumerate(_blocks(module)):
        p = f"transformer.resblocks.{i}.mlp."
        base = {k: ctx.pretrained[p + k].float() for k in MLP_KEYS}
        taus = {k: torch.stack([ctx.task_vectors[t][p + k] for t in tasks]) for k in MLP_KEYS}
        router = new_router(base["c_fc.weight"].shape[1], len(tasks), init_lambda, generator)
        if routers is not None:
            prefix = f"{ROUTER}{i}."
            router.load_state_dict(
                {k[len(prefix) :]: v for k, v in routers.items() if k.startswith(prefix)}
            )
        blk.mlp = MoEMLP(base, taus, blk.mlp.gelu, router, batch_first).to(ctx.device)
        moes.append(blk.mlp)
    return module, moes


def task_arithmetic(ctx: MergeContext, scaling: float) -> StateDict:
    """theta_0 + scaling * sum_k tau_k: the part of WeMoE outside the MLPs."""
    taus = list(ctx.task_vectors.values())
    return {k: v.float() + scaling * sum(t[k] for t in taus) for k, v in ctx.pretrained.items()}


def train(
    ctx: MergeContext,
    init_lambda: float,
    steps: int,
    lr: float,
    batch_size: int,
    pool: int,
) -> StateDict:
    """Train the routers by entropy minimisation; returns the checkpoint (static model plus
    routers) and fills ``ctx.diagnostics``: ``lambda0``, ``experts`` (order of k),
    ``routing`` ``{task: [block][k]}`` (mean r over that task's images), ``routing_mean``
    (over all tasks: the static MLPs' weights) and ``entropy`` before/after."""
    static = task_arithmetic(ctx, init_lambda)
    module, moes = build(ctx, static, None, init_lambda)
    params = [p for m in moes for p in m.router.parameters()]
    pools = UnlabelledPools(ctx, module, pool)
    curve = minimise_entropy(pools, params, module, steps, lr, batch_size)
    routing = {}
    with torch.no_grad():
        for task, x in pools.inputs.items():
            module(x)
            routing[task] = torch.stack([m.weights.mean(dim=0) for m in moes]).cpu()
    mean_routing = torch.stack(list(routing.values())).mean(dim=0)  # [blocks, K]
    for i, weights in enumerate(mean_routing):
        p = f"transformer.resblocks.{i}.mlp."
        for key in MLP_KEYS:
            taus = [ctx.task_vectors[t][p + key] for t in ctx.experts]
            static[p + key] = ctx.pretrained[p + key].float() + sum(
                w * tau for w, tau in zip(weights.tolist(), taus, strict=True)
            )
    ctx.diagnostics.update(
        lambda0=init_lambda,
        experts=list(ctx.experts),
        routing={t: r.tolist() for t, r in routing.items()},
        routing_mean=mean_routing.tolist(),
        entropy=curve,
    )
    routers = {
        f"{EXTRA_PREFIX}{ROUTER}{i}.{k}": v.detach().cpu()
        for i, m in enumerate(moes)
        for k, v in m.router.state_dict().items()
    }
    return {**static, **routers}


@torch.no_grad()
def forward_per_sample(
    ctx: MergeContext, state: StateDict, images: torch.Tensor, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``[N, d]`` of uint8 ``images`` under each input's own WeMoE model, and the
    routing weights ``[N, blocks, K]`` that built it (expert k = k-th of ``ctx.experts``).

    ``state`` is a WeMoE checkpoint (:func:`train`); ``ctx`` must hold the same pretrained
    model and experts, in the same order, as the merge.
    """
    tower, extra = split_extra(state)
    module, moes = build(ctx, tower, extra)
    features, weights = [], []
    for i in range(0, len(images), batch_size):
        features.append(module(tower_inputs(module, images[i : i + batch_size], ctx.device)))
        weights.append(torch.stack([m.weights for m in moes], dim=1))
    return torch.cat(features).float().cpu(), torch.cat(weights).float().cpu()
