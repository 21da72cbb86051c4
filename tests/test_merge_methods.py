"""Data-driven merge methods (RegMean, Fisher, AdaMerging, WeMoE), TIES against an independent
reference, and the prediction-level counterparts, on toy modules and the tiny ViT tower."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neulig import io
from neulig.catalogue import merge_methods
from neulig.data.packed import Split, Task, write_task
from neulig.ensemble import feature_average
from neulig.merging import MergeContext, levels, merge, wemoe
from neulig.merging.coefficients import combine
from neulig.merging.registry import method_module
from neulig.merging.state_dict import mean
from neulig.models import Head, Preprocess, split_extra

NEW_METHODS = ["regmean", "fisher", "adamerging_task", "adamerging_layer", "wemoe"]
FAST = {
    "regmean": {"examples": 8},
    "fisher": {"examples": 4},
    "adamerging_task": {"steps": 3, "pool": 8, "batch_size": 4},
    "adamerging_layer": {"steps": 3, "pool": 8, "batch_size": 4},
    "wemoe": {"steps": 3, "pool": 8, "batch_size": 4},
}


def packed_context(
    root, pretrained, experts, size=32, n=16, embed_dim=64, splits=("train", "test"), **kwargs
):
    """A MergeContext over random packed images (``splits``) and random unit heads per task."""
    rng = np.random.default_rng(0)
    data, heads = {}, {}
    for i, task in enumerate(experts):
        splits_ = {
            s: Split(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % 4)
            for s in splits
        }
        write_task(root / task, Task(task, list("abcd"), ["{}"], splits_, {}))
        data[task] = root / task
        g = torch.Generator().manual_seed(i)
        heads[f"{task}/weight"] = F.normalize(torch.randn(4, embed_dim, generator=g), dim=-1)
        heads[f"{task}/scale"] = torch.tensor(20.0)
    io.save_tensors(root / "heads.safetensors", heads)
    return MergeContext(
        pretrained, experts, data=data, heads_path=root / "heads.safetensors", **kwargs
    )


def perturbed(state, seed, scale=0.05, keep=lambda key: True):
    g = torch.Generator().manual_seed(seed)
    return {
        k: v + scale * torch.randn(v.shape, generator=g) if keep(k) else v.clone()
        for k, v in state.items()
    }


@pytest.fixture
def tiny_ctx(towers, tmp_path):
    theta0 = towers[0].state_dict()
    experts = {"a": perturbed(theta0, 1), "b": perturbed(theta0, 2)}
    return packed_context(tmp_path, theta0, experts, tower=towers[0])


@pytest.mark.parametrize("method", NEW_METHODS)
def test_every_new_method_merges_the_tiny_tower(tiny_ctx, method):
    merged = merge(method, tiny_ctx, **FAST[method])
    tower, extra = split_extra(merged)
    assert set(tower) == set(tiny_ctx.pretrained) and bool(extra) == (method == "wemoe")
    assert all(torch.isfinite(v).all() for v in merged.values())
    tiny_ctx.skeleton(tower)  # a strict load, as the evaluate step does


class ToyTower(nn.Module):
    """Flattened 2x2 RGB images into one linear layer (a tower for Preprocess)."""

    image_size = 2

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_regmean_on_one_linear_layer_is_least_squares_over_the_stacked_inputs(tmp_path):
    toys = [ToyTower(s) for s in range(3)]
    experts = {"a": toys[1].state_dict(), "b": toys[2].state_dict()}
    ctx = packed_context(
        tmp_path, toys[0].state_dict(), experts, size=2, embed_dim=3, tower=toys[0]
    )
    merged = merge("regmean", ctx, alpha=1.0, ridge=0.0)
    prep = Preprocess.for_tower(toys[0])
    xs = [prep(ctx.batch(t, "train")[0]).flatten(1).double() for t in experts]
    targets = [x @ e["fc.weight"].double().T for x, e in zip(xs, experts.values(), strict=True)]
    w_t = torch.linalg.lstsq(torch.cat(xs), torch.cat(targets)).solution
    assert torch.allclose(merged["fc.weight"].double(), w_t.T, atol=1e-5)
    assert torch.allclose(merged["fc.bias"], mean(list(experts.values()))["fc.bias"])


def test_regmean_grams_cover_every_attention_and_mlp_matrix(towers, images):
    from neulig.merging.methods.regmean import _attention_output, gram_matrices

    grams = gram_matrices(towers[0], images, torch.device("cpu"))
    expected = {
        f"transformer.resblocks.{i}.{name}"
        for i in range(2)
        for name in (
            "attn.in_proj_weight",
            "attn.out_proj.weight",
            "mlp.c_fc.weight",
            "mlp.c_proj.weight",
        )
    }
    assert set(grams) == expected
    mha = towers[0].transformer.resblocks[0].attn
    x = torch.randn(3, 5, 64)
    out = F.linear(_attention_output(mha, x, {}), mha.out_proj.weight, mha.out_proj.bias)
    assert torch.allclose(out, mha(x, x, x, need_weights=False)[0], atol=1e-5)


def test_regmean_on_a_resnet_tower_averages_what_it_cannot_hook(tmp_path):
    from open_clip.modified_resnet import ModifiedResNet

    nets = [ModifiedResNet((1, 1, 1, 1), 16, 2, image_size=32, width=8).eval() for _ in range(3)]
    experts = {"a": nets[1].state_dict(), "b": nets[2].state_dict()}
    ctx = packed_context(tmp_path, nets[0].state_dict(), experts, n=4, embed_dim=16, tower=nets[0])
    merged = merge("regmean", ctx)
    expected = mean(list(experts.values()))
    assert all(torch.allclose(merged[k], expected[k]) for k in expected)


def test_fisher_weights_each_entry_by_the_fishers(monkeypatch):
    from neulig.merging.methods import fisher

    theta0 = {"w": torch.zeros(3)}
    experts = {"a": {"w": torch.tensor([1.0, 2.0, 3.0])}, "b": {"w": torch.tensor([3.0, 0.0, 1.0])}}
    ctx = MergeContext(theta0, experts)
    monkeypatch.setattr(fisher, "diagonal_fisher", lambda ctx, task, n: {"w": torch.ones(3)})
    assert torch.allclose(merge("fisher", ctx)["w"], mean(list(experts.values()))["w"])
    fishers = {"a": torch.tensor([3.0, 1.0, 0.0]), "b": torch.tensor([1.0, 1.0, 0.0])}
    monkeypatch.setattr(fisher, "diagonal_fisher", lambda ctx, task, n: {"w": fishers[task]})
    # (3*1 + 1*3) / 4, (2 + 0) / 2, and where both are 0 the eps makes it the plain mean
    assert torch.allclose(merge("fisher", ctx)["w"], torch.tensor([1.5, 1.0, 2.0]))


def test_fisher_is_the_mean_squared_per_example_gradient(tmp_path):
    from neulig.merging.methods.fisher import diagonal_fisher

    toy = ToyTower(0)
    ctx = packed_context(
        tmp_path, toy.state_dict(), {"a": toy.state_dict()}, size=2, n=3, embed_dim=3, tower=toy
    )
    images, labels = ctx.batch("a", "train")
    head = ctx.heads["a"]
    expected = torch.zeros(3, 12)
    for x, y in zip(Preprocess.for_tower(toy)(images), labels, strict=True):
        toy.zero_grad()
        head(toy(x[None])).log_softmax(-1)[0, y].backward()
        expected += toy.fc.weight.grad.square() / 3
    assert torch.allclose(diagonal_fisher(ctx, "a", 3)["fc.weight"], expected, atol=1e-7)


@pytest.mark.parametrize("method", ["adamerging_task", "adamerging_layer"])
def test_adamerging_keeps_lambda_in_the_unit_interval_and_lowers_entropy(tiny_ctx, method):
    merge(method, tiny_ctx, steps=15, lr=0.2, pool=8, batch_size=8)
    lambdas = tiny_ctx.diagnostics["lambdas"]
    values = [
        v for lam in lambdas.values() for v in (lam.values() if isinstance(lam, dict) else [lam])
    ]
    assert set(lambdas) == {"a", "b"} and all(0.0 <= v <= 1.0 for v in values)
    assert min(values) in (0.0, 1.0) or max(values) in (0.0, 1.0)  # lr 0.2 reaches the clamp
    entropy = tiny_ctx.diagnostics["entropy"]
    assert entropy["final"] < entropy["initial"]


def _one_hot_routers(blocks: int, width: int, k: int, n_experts: int) -> dict:
    routers = {}
    for i in range(blocks):
        bias = torch.zeros(n_experts)
        bias[k] = 1.0
        weights = {"0.weight": torch.zeros(width, width), "0.bias": torch.zeros(width)}
        weights |= {"2.weight": torch.zeros(n_experts, width), "2.bias": bias}
        routers |= {f"extra/wemoe_router.{i}.{key}": v for key, v in weights.items()}
    return routers


def test_wemoe_with_one_hot_routing_is_that_expert(towers, images):
    theta0 = towers[0].state_dict()
    in_mlp = lambda key: ".mlp." in key  # noqa: E731 - experts differ only in their MLPs
    experts = {"a": perturbed(theta0, 1, 0.2, in_mlp), "b": perturbed(theta0, 2, 0.2, in_mlp)}
    ctx = MergeContext(theta0, experts, tower=towers[0])
    for k, task in enumerate(experts):
        state = theta0 | _one_hot_routers(2, 64, k, 2)
        features, routing = wemoe.forward_per_sample(ctx, state, images, batch_size=4)
        expected = encode(ctx.skeleton(experts[task]), images)
        assert torch.allclose(features, expected, atol=1e-5)
        assert routing.shape == (len(images), 2, 2) and torch.all(routing[:, :, k] == 1)


@torch.no_grad()
def encode(tower, images):
    return tower(Preprocess.for_tower(tower)(images))


def test_wemoe_mlp_routes_each_input_to_its_own_expert(towers):
    theta0 = towers[0].state_dict()
    p = "transformer.resblocks.0.mlp."
    experts = [perturbed(theta0, s, 0.2) for s in (1, 2)]
    base = {k: theta0[p + k] for k in wemoe.MLP_KEYS}
    taus = {k: torch.stack([e[p + k] - theta0[p + k] for e in experts]) for k in wemoe.MLP_KEYS}
    route = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])

    class Fixed(nn.Module):  # per-input one-hot routing, the same for every token
        def forward(self, h):
            return route[:, None, :].expand(-1, h.shape[1], -1)

    moe = wemoe.MoEMLP(base, taus, nn.GELU(), Fixed(), batch_first=True)
    x = torch.randn(3, 5, 64)
    out = moe(x)
    for i, k in enumerate([0, 1, 0]):
        w = {key: experts[k][p + key] for key in wemoe.MLP_KEYS}
        hidden = F.gelu(F.linear(x[i], w["c_fc.weight"], w["c_fc.bias"]))
        expected = F.linear(hidden, w["c_proj.weight"], w["c_proj.bias"])
        assert torch.allclose(out[i], expected, atol=1e-5)


@pytest.mark.parametrize("method", list(merge_methods()))
def test_every_counterpart_with_uniform_coefficients_is_the_feature_average(method):
    tasks, n = ["a", "b", "c"], 5
    g = torch.Generator().manual_seed(0)
    pretrained, experts = torch.randn(n, 8, generator=g), torch.randn(3, n, 8, generator=g)
    head = Head(F.normalize(torch.randn(4, 8, generator=g), dim=-1), 10.0)
    third = 1.0 / 3
    info = {
        "hparams": {"scaling": third},
        "coefficients": {
            "lambdas": {t: third for t in tasks}
            if method != "adamerging_layer"
            else {t: {"x": third, "y": third} for t in tasks},
            "experts": ["c", "a", "b"],
        },
    }
    routing = torch.full((n, 2, 3), third)
    scores = levels.counterpart_scores(method, info, pretrained, experts, tasks, head, routing)
    if not merge_methods()[method].counterpart:
        assert scores is None
    else:
        assert torch.allclose(scores, feature_average(experts, head), atol=1e-5)


def test_counterparts_use_the_merges_coefficients():
    f0, fs = torch.ones(2, 3), torch.stack([2 * torch.ones(2, 3), 4 * torch.ones(2, 3)])
    c0, c = method_module("task_arithmetic").coefficients(
        {"hparams": {"scaling": 0.25}}, ["a", "b"]
    )
    assert torch.allclose(combine(f0, fs, c0, c), torch.full((2, 3), 0.5 + 0.5 + 1.0))
    routing = torch.tensor([[[1.0, 0.0]], [[0.0, 0.5]]])  # [N, blocks, K], experts order b, a
    info = {"coefficients": {"experts": ["b", "a"]}}
    c0, c = method_module("wemoe").coefficients(info, ["a", "b"], routing)
    assert c.tolist() == [[0.0, 1.0], [0.5, 0.0]] and c0.tolist() == [0.0, 0.5]
    mixed = combine(f0, fs, c0, c)
    assert torch.allclose(mixed, torch.tensor([[4.0] * 3, [0.5 + 1.0] * 3]))


def test_every_declared_twin_or_per_input_merge_defines_what_its_jobs_call():
    for name, method in merge_methods().items():
        module = method_module(name)
        assert hasattr(module, "coefficients") == method.counterpart, name
        assert hasattr(module, "forward_per_input") == method.per_input, name
        # a per-task method builds one model per task instead of one merge, and has no twin
        assert hasattr(module, "task_model") == method.per_task, name
        assert hasattr(module, "merge") != method.per_task, name
        assert not (method.per_task and (method.counterpart or method.per_input)), name


def ties_reference(taus: np.ndarray, density: float) -> np.ndarray:
    """TIES with loops: trim per task, elect signs, majority fix, disjoint mean."""
    n_tasks, d = taus.shape
    trimmed = np.zeros_like(taus)
    for t in range(n_tasks):
        k = max(1, d - int(d * density))
        threshold = sorted(abs(v) for v in taus[t])[k - 1]
        for j in range(d):
            if abs(taus[t, j]) >= threshold:
                trimmed[t, j] = taus[t, j]
    signs = [np.sign(sum(trimmed[:, j])) for j in range(d)]
    majority = np.sign(sum(signs))
    signs = [s if s != 0 else majority for s in signs]
    out = np.zeros(d)
    for j in range(d):
        kept = [v for v in trimmed[:, j] if (v > 0 if signs[j] > 0 else v < 0)]
        out[j] = sum(kept) / max(1, len(kept))
    return out


def test_ties_matches_an_independent_reference_with_ties_and_zero_sums():
    taus = np.array(
        [
            [0.5, -0.5, 0.5, 0.1, -2.0, 1.0, 0.0, 0.3],  # three entries tie at |0.5|
            [-0.5, 0.5, 0.2, -0.1, 2.0, -1.0, 0.0, 0.3],  # sums of 0 at entries 0, 1, 4, 5
            [0.2, 0.1, -0.5, 0.4, 0.5, 0.0, 0.6, -0.3],
        ],
        dtype=np.float32,
    )
    theta0 = {"w": torch.zeros(2, 4)}
    experts = {str(t): {"w": torch.from_numpy(taus[t]).view(2, 4)} for t in range(3)}
    for density in (0.2, 0.5, 0.6, 1.0):
        merged = merge("ties", MergeContext(theta0, experts), density=density, scaling=1.0)
        expected = ties_reference(taus.astype(np.float64), density)
        assert np.allclose(merged["w"].flatten().numpy(), expected, atol=1e-6), density


@pytest.mark.parametrize("method", ["adamerging_task", "wemoe"])
def test_merge_step_writes_the_learned_coefficients_and_a_loadable_tower(
    tiny_ctx, tmp_path, method
):
    from types import SimpleNamespace

    from neulig.cli.stages import merge as merge_step
    from neulig.models import load_vision_tower

    arch = {"architecture": "NeuLig-Tiny-ViT-32"}
    io.save_checkpoint(tmp_path / "pre.safetensors", tiny_ctx.pretrained, {**arch, "task": None})
    for task, state in tiny_ctx.experts.items():
        io.save_checkpoint(tmp_path / f"{task}.safetensors", state, {**arch, "task": task})
    out = tmp_path / "merged.safetensors"
    args = SimpleNamespace(
        method=method,
        pretrained=str(tmp_path / "pre.safetensors"),
        experts=[str(tmp_path / f"{t}.safetensors") for t in tiny_ctx.experts],
        data=[str(p) for p in tiny_ctx.data.values()],
        heads=str(tiny_ctx.heads_path),
        out=str(out),
        params={"device": "cpu", "hparams": FAST[method]},
    )
    merge_step(args)
    coefficients = io.read_json(out.with_suffix(".json"))["coefficients"]
    assert set(coefficients["lambdas" if method != "wemoe" else "routing"]) == {"a", "b"}
    load_vision_tower(out)  # the WeMoE routers (extra/...) do not break the strict load
