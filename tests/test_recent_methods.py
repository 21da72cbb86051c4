"""DARE, Consensus / TALL, TSV-M, Iso-C / Iso-CTS, EMR, PCB and WUDI against their papers'
equations, written out in numpy (float64) on toy task vectors, plus their properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neulig.merging import MergeContext, merge
from neulig.merging.methods import emr, tall

from .test_merge_methods import perturbed, ties_reference

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


def polar(x):
    p, _, qt = np.linalg.svd(x, full_matrices=False)
    return p @ qt


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


def tsv_np(mats):
    t, r = len(mats), min(mats[0].shape)
    k = r // t
    u, s, vt = np.zeros((mats[0].shape[0], r)), np.zeros(r), np.zeros((r, mats[0].shape[1]))
    for i, x in enumerate(mats):
        ui, si, vti = np.linalg.svd(x, full_matrices=False)
        u[:, i * k : (i + 1) * k], s[i * k : (i + 1) * k], vt[i * k : (i + 1) * k] = (
            ui[:, :k],
            si[:k],
            vti[:k],
        )
    return polar(u) @ np.diag(s) @ polar(vt)


@pytest.mark.parametrize("tasks", [2, 3])  # k = 1 with one zero slot, and no zero slot
def test_tsv_m_stacks_and_orthogonalises_each_tasks_top_singular_vectors(tasks):
    theta0, taus = toy(tasks=tasks)
    expected = {
        W: theta0[W] + 0.8 * tsv_np([t[W] for t in taus]),
        B: theta0[B] + 0.8 * np.mean([t[B] for t in taus], axis=0),
    }
    assert close(merge("tsv_m", context(theta0, taus), scaling=0.8), expected)


def test_tsv_m_with_one_task_gives_that_expert_back():
    theta0, taus = toy(tasks=1)
    expert = {k: theta0[k] + taus[0][k] for k in theta0}
    assert close(merge("tsv_m", context(theta0, taus), scaling=1.0), expert)


def singular_values(merged, theta0):
    return np.linalg.svd(merged[W].numpy() - theta0[W], compute_uv=False)


def test_iso_c_flattens_the_spectrum_of_the_summed_task_vectors():
    theta0, taus = toy()
    u, s, vt = np.linalg.svd(sum(t[W] for t in taus), full_matrices=False)
    expected = {
        W: theta0[W] + 1.5 * s.mean() * u @ vt,
        B: theta0[B] + 1.5 * np.mean([t[B] for t in taus], axis=0),
    }
    merged = merge("iso_c", context(theta0, taus), scaling=1.5)
    assert close(merged, expected)
    assert np.allclose(singular_values(merged, theta0), 1.5 * s.mean(), atol=1e-5)


def test_iso_cts_adds_task_directions_outside_the_common_subspace():
    theta0, taus = toy(tasks=2, shape=(8, 6))
    # r = 6, f = 0.5: int(3) = 3, round(3 / 2) = 2 (half to even), so d = 2 and k_c = 2
    mats = [t[W] for t in taus]
    u, s, vt = np.linalg.svd(sum(mats), full_matrices=False)
    uc = u[:, :2]
    blocks = [np.linalg.svd(m - uc @ uc.T @ m, full_matrices=False) for m in mats]
    big_u = np.hstack([b[0][:, :2] for b in blocks] + [uc])
    big_s = np.concatenate([b[1][:2] for b in blocks] + [s[:2]])
    big_vt = np.vstack([b[2][:2] for b in blocks] + [vt[:2]])
    delta = big_s.mean() * polar(big_u) @ polar(big_vt)
    expected = {W: theta0[W] + delta, B: theta0[B] + np.mean([t[B] for t in taus], axis=0)}
    ctx = context(theta0, taus)
    merged = merge("iso_cts", ctx, scaling=1.0, common_fraction=0.5)
    assert close(merged, expected)
    assert np.allclose(singular_values(merged, theta0), big_s.mean(), atol=1e-5)
    iso_c = merge("iso_c", ctx, scaling=1.0)  # f = 1: no task part, all common
    assert torch.allclose(merge("iso_cts", ctx, common_fraction=1.0)[W], iso_c[W], atol=1e-5)


def test_emr_elects_masks_and_rescales_per_task():
    theta0, taus = toy()
    for t, v in zip(taus, (0.5, -0.5, 0.0), strict=True):
        t[W][0, 0] = v  # a zero sum: the elected sign is -1, only the second task agrees
    gamma = {k: np.where(sum(t[k] for t in taus) > 0, 1.0, -1.0) for k in theta0}
    masks = [{k: t[k] * gamma[k] > 0 for k in t} for t in taus]
    unified = {
        k: gamma[k]
        * np.max([np.abs(t[k] * m[k]) for t, m in zip(taus, masks, strict=True)], axis=0)
        for k in theta0
    }
    ctx = context(theta0, taus)
    for i, task in enumerate(ctx.experts):
        scale = sum(np.abs(taus[i][k]).mean() for k in theta0) / sum(
            np.abs(masks[i][k] * unified[k]).mean() for k in theta0
        )
        expected = {k: theta0[k] + scale * masks[i][k] * unified[k] for k in theta0}
        assert close(emr.task_model(ctx, task), expected)
        if i != 1:
            assert emr.task_model(ctx, task)[W][0, 0] == theta0[W][0, 0]
    assert unified[W][0, 0] == -0.5


def test_pcb_balances_drops_and_averages_as_the_vision_script():
    theta0, taus = toy()
    x = np.stack([np.concatenate([t[W].ravel(), t[B]]) for t in taus])
    n, d = x.shape  # 3 x 16

    def clamp_rows(v, lo, hi):
        srt = np.sort(v, axis=1)
        return np.clip(v, srt[:, [lo]], srt[:, [hi]])

    def minmax(v):
        lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
        return (v - lo) / (hi - lo)

    mag = clamp_rows(np.abs(x), 0, 14)  # int(16 * 0.01) = 0, int(16 * 0.99 - 1) = 14
    norm = minmax(mag)
    beta = np.exp(n * norm**2) * np.tanh(x * (np.sign(x) * norm).sum(axis=0))
    beta = minmax(clamp_rows(beta, 8, 15))  # keep_ratio 0.5: int(16 * 0.5) = 8
    merged_tv = 1.2 * (np.sign(x) * mag * beta).sum(axis=0) / np.maximum(beta.sum(axis=0), 1e-12)
    expected = np.concatenate([theta0[W].ravel(), theta0[B]]) + merged_tv
    merged = merge("pcb", context(theta0, taus), scaling=1.2, keep_ratio=0.5)
    assert np.allclose(torch.cat([merged[W].ravel(), merged[B]]).numpy(), expected, atol=1e-5)
    assert (beta == 0).sum() >= n * 8  # the bottom of each row is dropped


def wudi_loss(x, mats):
    return sum(((x - m) @ m.T).square().sum() / m.square().sum() for m in mats)


def test_wudi_closed_form_is_the_least_squares_minimiser():
    theta0, taus = toy()
    mats = [t[W] for t in taus]
    weights = [1 / np.sqrt((m**2).sum()) for m in mats]
    lhs = np.hstack(
        [w * m.T for w, m in zip(weights, mats, strict=True)]
    )  # X lhs = rhs, stacked over t
    rhs = np.hstack([w * m @ m.T for w, m in zip(weights, mats, strict=True)])
    solution = np.linalg.lstsq(lhs.T, rhs.T, rcond=None)[0].T
    merged = merge("wudi", context(theta0, taus), closed_form=True)
    assert close(merged, {W: theta0[W] + solution, B: theta0[B]}, atol=1e-4)


def test_wudi_takes_adam_steps_on_the_interference_loss_from_the_sum():
    theta0, taus = toy()
    mats = [torch.tensor(t[W]) for t in taus]
    start = sum(mats).requires_grad_()
    wudi_loss(start, mats).backward()
    g = start.grad  # Adam's first step: lr * m_hat / (sqrt(v_hat) + eps) = lr g / (|g| + eps)
    step = (start - 0.01 * g / (g.abs() + 1e-8)).detach().numpy()
    merged = merge("wudi", context(theta0, taus), steps=1, lr=0.01)
    assert close(merged, {W: theta0[W] + step, B: theta0[B]})
    closed = merge("wudi", context(theta0, taus), closed_form=True)[W] - torch.tensor(theta0[W])
    assert wudi_loss(closed.double(), mats) < wudi_loss(
        merged[W].double() - torch.tensor(theta0[W]), mats
    )


def test_wudi_of_a_task_and_a_zero_task_vector_is_that_task_vector():
    theta0, taus = toy(tasks=2)
    taus[0][W] = np.zeros_like(taus[0][W])  # adds nothing to L instead of dividing by 0
    merged = merge("wudi", context(theta0, taus), closed_form=True)
    assert close(merged, {W: theta0[W] + taus[1][W], B: theta0[B]}, atol=1e-4)


STATIC = {
    "dare_task_arithmetic": {},
    "dare_ties": {},
    "consensus_ta": {},
    "tsv_m": {},
    "iso_c": {},
    "iso_cts": {},
    "pcb": {},
    "wudi": {"steps": 5},
}


def test_every_recent_method_merges_the_tiny_tower(towers):
    theta0 = towers[0].state_dict()
    ctx = MergeContext(
        theta0, {t: perturbed(theta0, s) for s, t in enumerate("abc")}, tower=towers[0]
    )
    states = [merge(method, ctx, **hp) for method, hp in STATIC.items()]
    states += [module.task_model(ctx, "b") for module in (tall, emr)]
    for state in states:
        assert set(state) == set(theta0) and all(torch.isfinite(v).all() for v in state.values())
        ctx.skeleton(state)  # a strict load
