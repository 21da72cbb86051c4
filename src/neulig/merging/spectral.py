"""Per-matrix spectral merging, shared by TSV-M and Iso-C / Iso-CTS: a rule for the 2-D
tensors, the mean of the task vectors for every other one. All functions are pure."""

from __future__ import annotations

from collections.abc import Callable

import torch

from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, mean

Block = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (U [m, j], s [j], V^T [j, n])


@torch.no_grad()
def per_matrix(ctx: MergeContext, rule: Callable[[list[torch.Tensor]], torch.Tensor]) -> StateDict:
    """``rule([tau_1[k], ..., tau_T[k]])`` on ``ctx.device`` (the SVDs are the cost) for every
    key whose tensors are 2-D (ndim == 2, so open_clip's positional embedding and ``proj``
    too), the mean of the tau_t elsewhere.

    Each key is taken as stored: open_clip's fused attention ``in_proj_weight`` [3d, d] is
    one matrix, as in the reference code of TSV and Iso, which runs on open_clip.
    """
    taus = list(ctx.task_vectors.values())
    merged = mean(taus)
    for key, value in taus[0].items():
        if value.ndim == 2:
            merged[key] = rule([tau[key].to(ctx.device) for tau in taus]).cpu()
    return merged


def polar(x: torch.Tensor) -> torch.Tensor:
    """The orthogonal polar factor P Q^T of x = P S Q^T: the nearest matrix with orthonormal
    columns (or rows, if x is wide)."""
    p, _, qt = torch.linalg.svd(x, full_matrices=False)
    return p @ qt


def orthogonal_stack(blocks: list[Block], rank: int) -> Block:
    """The blocks' singular vectors side by side, zero-padded to ``rank`` slots and replaced by
    their polar factors; the singular values concatenated as they are (not re-sorted)."""
    u = torch.cat([b[0] for b in blocks], dim=1)
    s = torch.cat([b[1] for b in blocks])
    vt = torch.cat([b[2] for b in blocks], dim=0)
    pad = rank - len(s)
    u = torch.cat([u, u.new_zeros(u.shape[0], pad)], dim=1)
    vt = torch.cat([vt, vt.new_zeros(pad, vt.shape[1])], dim=0)
    return polar(u), torch.cat([s, s.new_zeros(pad)]), polar(vt)


def top(x: torch.Tensor, k: int) -> Block:
    """The top-``k`` singular triplets of x."""
    u, s, vt = torch.linalg.svd(x, full_matrices=False)
    return u[:, :k], s[:k], vt[:k]
