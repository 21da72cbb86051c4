"""Assignment solvers: one LAP per perm, or head/group-constrained LAPs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from neulig.align.vit_perms import compose_heads


def solve_lap(similarity: torch.Tensor) -> torch.Tensor:
    """The perm maximising the summed similarity of matched pairs (rows: A, cols: B)."""
    _, cols = linear_sum_assignment(similarity.double().cpu().numpy(), maximize=True)
    return torch.from_numpy(cols).long()


def match_heads(similarities: Sequence[torch.Tensor], heads: int) -> list[torch.Tensor]:
    """Head-constrained perms for perms that share one head assignment.

    Each (head_a, head_b) block of each similarity gets its own LAP, scored by its mean matched
    similarity; the heads are then assigned by one LAP on the scores summed over
    ``similarities``, and each perm keeps its own within-head orders.
    """
    size = similarities[0].shape[0]
    dim = size // heads
    scores = np.zeros((heads, heads))
    within = []
    for sim in similarities:
        blocks = sim.double().cpu().reshape(heads, dim, heads, dim).permute(0, 2, 1, 3).numpy()
        orders = np.empty((heads, heads, dim), dtype=np.int64)
        for ha in range(heads):
            for hb in range(heads):
                rows, cols = linear_sum_assignment(blocks[ha, hb], maximize=True)
                orders[ha, hb] = cols
                scores[ha, hb] += blocks[ha, hb][rows, cols].mean()
        within.append(orders)
    _, head_perm = linear_sum_assignment(scores, maximize=True)
    picked = [torch.from_numpy(orders[np.arange(heads), head_perm]) for orders in within]
    return [compose_heads(torch.from_numpy(head_perm), orders) for orders in picked]
