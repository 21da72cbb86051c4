"""Greedy zipping (ZipIt, Stoica et al. 2024; MuDSC's default fusion) of K models' units.

A zip of one perm is a 0/1 matrix ``P`` [K*d, d'] (rows: every model's units stacked, model 0
first; columns: merged units). Model k's chunk ``U_k`` of ``P`` *unmerges* (unit i of model k
reads merged unit j where ``U_k[i, j] = 1``); ``M = P / colsum(P)`` *merges* (a merged unit is
the mean of its members).

Greedy rule (ZipIt's ``match_tensors_zipit``): repeatedly merge the most similar pair of live
units; the merged unit's similarities become the elementwise min of the pair's times ``alpha``
(damping re-merges into big clusters); merges of two units of one model use up that model's
budget ``beta * floor(merges / K)``, after which its internal pairs are masked.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from neulig.align.solve import match_heads

NEG = float("-inf")


def _block_mask(n: int, models: int, model: int) -> torch.Tensor:
    """The (model, model) block of an n x n matrix of ``models`` equal chunks."""
    owner = torch.arange(n) // (n // models)
    inside = owner == model
    return inside[:, None] & inside[None, :]


def greedy_zip(
    similarity: torch.Tensor, models: int, alpha: float, beta: float, ratio: float | None = None
) -> torch.Tensor:
    """Zip the stacked units of ``models`` models on ``similarity`` [K*d, K*d].

    Args:
        similarity: symmetric unit similarity, rows/cols model-major.
        models: K.
        alpha: damping of a merged unit's similarities, in (0, 1].
        beta: same-model budget as a fraction of ``merges / K``.
        ratio: fraction of units merged away; ``1 - 1/K`` (default) keeps d units.

    Returns:
        P [K*d, d'], columns ordered by their first member (model 0's units keep their order
        when each merged unit holds one of them).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"zip alpha must lie in (0, 1], not {alpha}")
    n = similarity.shape[0]
    ratio = 1 - 1 / models if ratio is None else ratio
    merges = n - round(n * (1 - ratio))
    sim = similarity.double().clone()
    sim.fill_diagonal_(NEG)
    budget = [int(beta * (merges // models))] * models
    for model in range(models):
        if budget[model] == 0:
            sim[_block_mask(n, models, model)] = NEG
    cluster = torch.arange(n)  # the live unit each original unit now belongs to
    for _ in range(merges):
        i, j = divmod(int(sim.argmax()), n)
        i, j = min(i, j), max(i, j)
        cluster[cluster == j] = i
        merged = torch.minimum(sim[i], sim[j]) * alpha
        sim[i], sim[:, i] = merged, merged
        sim[j], sim[:, j] = NEG, NEG
        sim[i, i] = NEG
        owner_i, owner_j = i * models // n, j * models // n
        if owner_i == owner_j:
            budget[owner_i] -= 1
            if budget[owner_i] == 0:
                sim[_block_mask(n, models, owner_i)] = NEG
    live = torch.unique(cluster)  # sorted: the first member of each merged unit
    return (cluster[:, None] == live[None, :]).float()


def merge_matrix(zip_p: torch.Tensor) -> torch.Tensor:
    """M = P / colsum(P): each merged unit is the mean of its members."""
    return zip_p / zip_p.sum(0, keepdim=True)


def _head_assignments(sims: Sequence[torch.Tensor], models: int, heads: int) -> list[list[int]]:
    """For each model, the head matched to each of model 0's heads (shared over ``sims``)."""
    d = sims[0].shape[0] // models
    dim = d // heads
    out = [list(range(heads))]
    for k in range(1, models):
        cross = [s[:d, k * d : (k + 1) * d] for s in sims]
        unit_perm = match_heads(cross, heads)[0]
        out.append((unit_perm[::dim] // dim).tolist())
    return out


def group_zip(
    sims: Sequence[torch.Tensor], models: int, heads: int, alpha: float, beta: float
) -> list[torch.Tensor]:
    """Zip head-structured perms (attention heads, GroupNorm groups) that share one head
    assignment: heads are matched to model 0's by head-level LAPs (on the summed scores), then
    each perm is zipped inside every matched head tuple, so each merged head keeps d/heads
    units."""
    d = sims[0].shape[0] // models
    dim = d // heads
    assignment = _head_assignments(sims, models, heads)
    out = []
    for sim in sims:
        zip_p = sim.new_zeros(models * d, d)
        for h in range(heads):
            rows = torch.cat([
                torch.arange(dim) + k * d + assignment[k][h] * dim for k in range(models)
            ])  # fmt: skip
            part = greedy_zip(sim[rows][:, rows], models, alpha, beta)
            zip_p[rows, h * dim : (h + 1) * dim] = part
        out.append(zip_p)
    return out
