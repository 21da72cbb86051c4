"""Iso-C (Marczak et al., ICML 2025): the summed task vectors with a flat spectrum, so that no
task's directions dominate the merge."""

from __future__ import annotations

import torch

from neulig.catalogue import MergeMethod
from neulig.merging.context import MergeContext
from neulig.merging.spectral import per_matrix
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="Iso-C")


def merge(ctx: MergeContext, scaling: float = 1.0) -> StateDict:
    """theta_0 + scaling * tau: :func:`iso_c_matrix` on every 2-D tensor (the fused
    ``in_proj_weight`` as one matrix, see :func:`neulig.merging.spectral.per_matrix`), the
    mean of the tau_t elsewhere. The default is FusionBench's config (its table used 1.5); the
    reference code searches ``scaling`` in {0.1, ..., 3.0} on val.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=1.0)
    """
    return add_scaled(ctx.pretrained, per_matrix(ctx, iso_c_matrix), scaling)


def iso_c_matrix(mats: list[torch.Tensor]) -> torch.Tensor:
    """mean(S) U V^T for the thin SVD U S V^T of the sum (not the mean) of the tau_t."""
    u, s, vt = torch.linalg.svd(sum(mats), full_matrices=False)
    return s.mean() * (u @ vt)
