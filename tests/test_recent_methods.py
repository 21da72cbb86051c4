"""DARE and Consensus / TALL against their papers' equations, written out in numpy
(float64) on toy task vectors, plus their properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neulig.merging import MergeContext, merge
from neulig.merging.methods import tall

from .test_merge_methods import ties_reference

W, B = "attn.in_proj_weight", "attn.in_proj_bias"  # an open_clip name: WUDI merges it


def toy(tasks=3, shape=(4, 3), seed=0):
    """theta_0 and tau_t in multiples of 1/4, so theta_t = theta_0 + tau_t is exact in float32."""
    rng = np.random.default_rng(seed)

    def draw():
        return {W: rng.integers(-8, 9, shape) / 4, B: rng.integers(-8, 9, shape[:1]) / 4}

    return draw(), [draw() for _ in range(tasks)]


def context(theta0, taus, seed=0):
    def f32(d):
        return {k: torch.tensor(v, dtype=torch.float32) for k, v in d.items()}

    experts = {f"t{i}": f32({k: theta0[k] + tau[k] for k in tau}) for i, tau in enumerate(taus)}
    return MergeContext(f32(theta0), experts, seed=seed)


def close(merged, expected, atol=1e-5):
    return all(np.allclose(merged[k].numpy(), expected[k], atol=atol) for k in expected)


def dare_keeps(taus, p, seed):
    """The documented draws: one generator, task by task, key by key, keep where u >= p."""
    g = torch.Generator().manual_seed(seed)
    return [
        {k: (torch.rand(v.shape, generator=g) >= p).numpy() for k, v in t.items()} for t in taus
    ]


def test_dare_task_arithmetic_rescales_the_seeded_survivors():
    theta0, taus = toy()
    keeps = dare_keeps(taus, 0.5, seed=7)
    merged = merge("dare_task_arithmetic", context(theta0, taus, 7), scaling=0.3, drop_rate=0.5)
    expected = {
        k: theta0[k] + 0.3 * sum(t[k] * m[k] / 0.5 for t, m in zip(taus, keeps, strict=True))
        for k in theta0
    }
    assert close(merged, expected)


def test_dare_ties_is_ties_on_the_dropped_vectors():
    theta0, taus = toy()
    keeps = dare_keeps(taus, 0.25, seed=3)
    dropped = np.stack(
        [
            np.concatenate([(t[k] * m[k] / 0.75).ravel() for k in (W, B)])
            for t, m in zip(taus, keeps, strict=True)
        ]
    )
    ctx = context(theta0, taus, 3)
    merged = merge("dare_ties", ctx, scaling=0.5, drop_rate=0.25, density=0.4, merge_func="mean")
    flat = np.concatenate([theta0[k].ravel() for k in (W, B)]) + 0.5 * ties_reference(dropped, 0.4)
    assert np.allclose(torch.cat([merged[W].ravel(), merged[B]]).numpy(), flat, atol=1e-5)


def test_dare_without_drops_is_task_arithmetic_and_ties_and_is_seeded():
    ctx = context(*toy())
    ta = merge("task_arithmetic", ctx, scaling=0.3)
    assert close(
        merge("dare_task_arithmetic", ctx, drop_rate=0.0), {k: v.numpy() for k, v in ta.items()}
    )
    ties = merge("ties", ctx, scaling=0.5, density=0.2, merge_func="sum")
    assert close(merge("dare_ties", ctx, drop_rate=0.0), {k: v.numpy() for k, v in ties.items()})
    runs = [merge("dare_task_arithmetic", context(*toy(), seed=s)) for s in (0, 0, 1)]
    assert torch.equal(runs[0][W], runs[1][W]) and not torch.equal(runs[0][W], runs[2][W])
    with pytest.raises(ValueError):
        merge("dare_task_arithmetic", ctx, drop_rate=1.0)


def tall_masks_np(taus, lam):
    total = {k: sum(t[k] for t in taus) for k in taus[0]}
    masks = [{k: np.abs(t[k]) > lam * np.abs(total[k] - t[k]) for k in t} for t in taus]
    return total, masks


def test_consensus_keeps_the_entries_two_tall_masks_select():
    theta0, taus = toy(tasks=4)
    total, masks = tall_masks_np(taus, 0.4)
    votes = {k: sum(m[k].astype(int) for m in masks) for k in total}
    expected = {k: theta0[k] + 0.7 * total[k] * (votes[k] >= 2) for k in total}
    ctx = context(theta0, taus)
    assert close(merge("consensus_ta", ctx, scaling=0.7, tall_lambda=0.4, k=2), expected)
    per_task = dict.fromkeys(ctx.experts, 0.4)
    assert close(merge("consensus_ta", ctx, scaling=0.7, tall_lambda=per_task, k=2), expected)
    no_consensus = {k: theta0[k] + 0.7 * total[k] for k in total}
    assert close(merge("consensus_ta", ctx, scaling=0.7, k=0), no_consensus)
    assert 0 < sum(int((votes[k] >= 2).sum()) for k in votes) < 4 * 3 + 4  # the mask bites


def test_tall_gives_each_task_its_masked_multi_task_vector():
    theta0, taus = toy()
    total, masks = tall_masks_np(taus, 0.5)
    ctx = context(theta0, taus)
    for i, task in enumerate(ctx.experts):
        expected = {k: theta0[k] + masks[i][k] * total[k] for k in total}
        assert close(tall.task_model(ctx, task, tall_lambda=0.5), expected)
    with pytest.raises(NotImplementedError):
        merge("tall", ctx)
