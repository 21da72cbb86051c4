"""Iso-CTS (Marczak et al., ICML 2025): Iso-C over a common subspace of the summed task vectors
plus, for each task, its top directions outside that subspace."""

from __future__ import annotations

from functools import partial

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.spectral import orthogonal_stack, per_matrix, top
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="Iso-CTS")


def merge(ctx: MergeContext, scaling: float = 1.0, common_fraction: float = 0.8) -> StateDict:
    """theta_0 + scaling * tau: :func:`iso_cts_matrix` on every 2-D tensor (the fused
    ``in_proj_weight`` as one matrix, see :func:`neulig.merging.spectral.per_matrix`), the
    mean of the tau_t elsewhere. Defaults are FusionBench's config and the paper's f = 0.8
    (its table used scaling 1.5); the reference code searches ``scaling`` in {0.1, ..., 3.0}.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0, common_fraction=0.8)
    """
    rule = partial(iso_cts_matrix, common_fraction=common_fraction)
    return add_scaled(ctx.pretrained, per_matrix(ctx, rule), scaling)


def iso_cts_matrix(mats: list[torch.Tensor], common_fraction: float) -> torch.Tensor:
    """mean(s) U_perp V_perp^T over r = min(m, n) slots: the top k_c triplets of sum_t tau_t
    and, per task, the top d of tau_t with the common left subspace projected out.

    The task part is d = round((r - int(f r)) / T) per task (Python's round, as the reference
    code) and k_c = r - T d takes the rest, so the slots fill exactly.
    """
    rank, count = min(mats[0].shape), len(mats)
    per_task = round((rank - int(rank * common_fraction)) / count)
    common = top(sum(mats), rank - count * per_task)
    u_c = common[0]
    blocks = [top(m - u_c @ (u_c.T @ m), per_task) for m in mats]
    u, s, vt = orthogonal_stack([*blocks, common], rank)
    return s.mean() * (u @ vt)
