"""AdaMerging (Yang et al., ICLR 2024): merge coefficients learned by entropy minimisation.

theta(lambda) = theta_0 + sum_k lambda_k^l tau_k^l, with one lambda per task (task-wise) or
one per task and parameter tensor l (layer-wise). lambda = clamp(raw, 0, 1) in every forward
(the original code; raw starts at ``init``), and only raw trains: Adam on
sum_t mean_x H(softmax(head_t(f(x; theta(lambda))))) over unlabelled test batches of task t
(:mod:`neulig.merging.unlabelled`). Buffers (BatchNorm statistics) stay theta_0's.
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict
from neulig.merging.unlabelled import UnlabelledPools, minimise_entropy


def adamerge(
    ctx: MergeContext,
    layerwise: bool,
    *,
    steps: int = 100,
    lr: float = 1e-2,
    batch_size: int = 16,
    pool: int = 128,
    init: float = 0.3,
) -> StateDict:
    """The merged state at the learned lambda; ``ctx.diagnostics`` gets the lambdas
    (``{task: float}``, or ``{task: {parameter: float}}`` layer-wise) and the entropy before
    and after training."""
    module = ctx.skeleton()
    names = [n for n, _ in module.named_parameters()]
    tasks = list(ctx.experts)
    base = {n: ctx.pretrained[n].float().to(ctx.device) for n in names}
    taus = {n: torch.stack([ctx.task_vectors[t][n] for t in tasks]).to(ctx.device) for n in names}
    raw = torch.full((len(tasks), len(names) if layerwise else 1), float(init), device=ctx.device)
    raw.requires_grad_(True)

    def merged() -> StateDict:
        lam = raw.clamp(0.0, 1.0)
        return {
            n: base[n] + torch.tensordot(lam[:, i if layerwise else 0], taus[n], dims=1)
            for i, n in enumerate(names)
        }

    def features(x: torch.Tensor) -> torch.Tensor:
        return functional_call(module, merged(), (x,))

    pools = UnlabelledPools(ctx, module, pool)
    curve = minimise_entropy(pools, [raw], features, steps, lr, batch_size)
    lam = raw.detach().clamp(0.0, 1.0).cpu()
    if layerwise:
        lambdas = {t: dict(zip(names, lam[k].tolist(), strict=True)) for k, t in enumerate(tasks)}
    else:
        lambdas = {t: float(lam[k, 0]) for k, t in enumerate(tasks)}
    ctx.diagnostics.update(lambdas=lambdas, entropy=curve)
    with torch.no_grad():
        return {**{k: v.float() for k, v in ctx.pretrained.items()}, **merged()}
