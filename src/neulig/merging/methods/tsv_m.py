"""TSV-Merge (Gargiulo et al., CVPR 2025): each task's top singular vectors of every matrix,
side by side, orthogonalised to remove the interference between tasks."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.spectral import orthogonal_stack, per_matrix, top
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="TSV-Merge")


def merge(ctx: MergeContext, scaling: float = 1.0) -> StateDict:
    """theta_0 + scaling * tau_M: :func:`tsv_matrix` on every 2-D tensor (the fused
    ``in_proj_weight`` as one matrix, see :func:`neulig.merging.spectral.per_matrix`), the
    mean of the tau_t elsewhere. The default is FusionBench's; the reference code searches
    ``scaling`` in {0.1, ..., 3.0} on val.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0)
    """
    return add_scaled(ctx.pretrained, per_matrix(ctx, tsv_matrix), scaling)


def tsv_matrix(mats: list[torch.Tensor]) -> torch.Tensor:
    """U_perp diag(s) V_perp^T from each task's top k = floor(r / T) singular triplets, r =
    min(m, n); slots past T k stay zero (so k = 0 when T > r gives a zero delta)."""
    rank = min(mats[0].shape)
    k = rank // len(mats)
    u, s, vt = orthogonal_stack([top(m, k) for m in mats], rank)
    return u @ torch.diag(s) @ vt
