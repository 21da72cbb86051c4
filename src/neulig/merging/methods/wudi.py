"""WUDI-Merging (Cheng et al., ICML 2025): per block weight matrix, the merged task vector
whose interference with each task, measured on that task vector's own rows, is smallest."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict

METHOD = MergeMethod(label="WUDI-Merging")

# open_clip's block linears, the only tensors the original (``vit/wudi_main.py``) merges.
BLOCK_LINEARS = (
    "attn.in_proj_weight",
    "attn.out_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)


def merge(
    ctx: MergeContext, steps: int = 300, lr: float = 1e-5, closed_form: bool = False
) -> StateDict:
    """theta_0 + tau_m on the block linears (the fused ``in_proj_weight`` as one matrix, as
    the original on open_clip); every other tensor stays at theta_0, as in the original
    (FusionBench instead merges all 2-D tensors and averages the rest). No scaling.

    tau_m minimises L = sum_t ||(tau_m - tau_t) tau_t^T||_F^2 / ||tau_t||_F^2 from
    tau_m = sum_t tau_t, by ``steps`` full-batch Adam steps (torch defaults, no weight decay;
    the original's 300 at lr 1e-5), or exactly with ``closed_form`` (see :func:`wudi_matrix`),
    on ``ctx.device``.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), steps=300, lr=1e-5)
    """
    taus = list(ctx.task_vectors.values())
    merged = {k: v.float().clone() for k, v in ctx.pretrained.items()}
    for key in merged:
        if key.endswith(BLOCK_LINEARS):
            mats = [t[key].to(ctx.device) for t in taus]
            merged[key] += wudi_matrix(mats, steps, lr, closed_form).cpu()
    return merged


def wudi_matrix(mats: list[torch.Tensor], steps: int, lr: float, closed_form: bool):
    """The gradient 2 sum_t w_t (tau_m - tau_t) G_t, G_t = tau_t^T tau_t, w_t = 1/||tau_t||^2,
    is 2 (tau_m A - B) with A = sum_t w_t G_t and B = sum_t w_t tau_t G_t computed once: one
    [m, n] x [n, n] product per step, whatever T. A zero tau_t adds nothing to L (w_t = 0).
    The minimiser is B A^+ (closed form, in float64)."""
    a, b = 0.0, 0.0
    for m in mats:
        gram = m.T @ m / (float(m.square().sum()) or 1.0)  # w_t G_t; 0 when tau_t is
        a, b = a + gram, b + m @ gram
    if closed_form:
        return (b.double() @ torch.linalg.pinv(a.double(), hermitian=True)).float()
    merged = torch.nn.Parameter(sum(mats).clone())
    optimizer = torch.optim.Adam([merged], lr=lr, weight_decay=0.0)
    for _ in range(steps):
        merged.grad = 2.0 * (merged.detach() @ a - b)
        optimizer.step()
    return merged.detach()
