"""Alignment: the permutation spec is an exact symmetry and the matchers recover known perms."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from open_clip.model import _build_vision_tower

from neulig.align import ALIGN_METHODS, align, apply_permutations, vit_spec
from neulig.align.similarity import PairStats
from neulig.align.vit_hooks import register_vit
from neulig.align.vit_perms import compose_heads, invert, random_permutations


def _tower(seed: int = 0, image_size: int = 32, **cfg) -> torch.nn.Module:
    """A small random ViT tower; every parameter is jittered so LayerNorms and biases are not
    at their (permutation-blind) init values."""
    torch.manual_seed(seed)
    vision_cfg = {"image_size": image_size, "patch_size": 8, "width": 64, "layers": 2}
    vision_cfg |= {"head_width": 32, "mlp_ratio": 2.0, **cfg}
    visual = _build_vision_tower(32, vision_cfg, quick_gelu=True).eval()
    with torch.no_grad():
        for param in visual.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return visual


def _permuted_copy(visual: torch.nn.Module, seed: int = 1, **cfg) -> tuple:
    spec = vit_spec(visual)
    perms = random_permutations(spec, torch.Generator().manual_seed(seed))
    other = _tower(seed=99, **cfg)
    other.load_state_dict(apply_permutations(visual.state_dict(), perms, spec))
    return other, perms


def _images(n: int = 8, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize(
    "cfg",
    [
        {"layers": 1},
        {"layers": 3, "width": 96},  # 3 heads
        {"width": 96, "head_width": 48, "ls_init_value": 0.5, "pool_type": "avg"},
        {"no_ln_pre": True, "final_ln_after_pool": True},
    ],
)
@torch.no_grad()
def test_random_permutation_is_an_exact_symmetry(cfg: dict) -> None:
    visual = _tower(**cfg)
    other, perms = _permuted_copy(visual, **cfg)
    assert any(not torch.equal(p, torch.arange(len(p))) for p in perms.values())
    x = _images()
    torch.testing.assert_close(other(x), visual(x), atol=1e-5, rtol=0)


@torch.no_grad()
def test_vit_b32_config_permutes_exactly() -> None:
    cfg = open_clip.get_model_config("ViT-B-32")
    torch.manual_seed(0)
    visual = _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"]).eval()
    spec = vit_spec(visual)
    assert spec.perms["qk.11"].heads == 12 and spec.perms["mlp.0"].size == 3072
    perms = random_permutations(spec, torch.Generator().manual_seed(0))
    x = _images(2, 224)
    expected = visual(x)
    visual.load_state_dict(apply_permutations(visual.state_dict(), perms, spec))
    torch.testing.assert_close(visual(x), expected, atol=1e-5, rtol=0)


@torch.no_grad()
def test_unshared_head_permutation_breaks_the_model() -> None:
    visual = _tower()
    spec = vit_spec(visual)
    within = torch.stack([torch.arange(32)] * 2)
    perms = {"qk.0": compose_heads(torch.tensor([1, 0]), within)}  # V heads left in place
    other = _tower()
    other.load_state_dict(apply_permutations(visual.state_dict(), perms, spec))
    x = _images()
    assert (other(x) - visual(x)).abs().max() > 1e-3


def test_unsupported_tower_is_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported vision tower"):
        vit_spec(_tower(qk_norm=True))


def test_pair_stats_stream_equals_pearson() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=gen) * 3 + 100  # large means: the shift must handle them
    b = a[:, [2, 0, 4, 1, 3]] @ torch.eye(5) + torch.randn(300, 5, generator=gen)
    stats = PairStats()
    for chunk in range(0, 300, 64):
        stats.update(a[chunk : chunk + 64], b[chunk : chunk + 64])
    expected = np.corrcoef(a.double().numpy(), b.double().numpy(), rowvar=False)[:5, 5:]
    np.testing.assert_allclose(stats.correlation().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("batch_first", [True, False])
@torch.no_grad()
def test_recomputed_head_outputs_reproduce_attention(batch_first: bool) -> None:
    visual = _tower(layers=1)
    visual.transformer.batch_first = batch_first
    visual.transformer.resblocks[0].attn.batch_first = batch_first
    attn = visual.transformer.resblocks[0].attn
    seen: dict[str, torch.Tensor] = {}
    handles = register_vit(visual, seen.__setitem__)
    handles.append(attn.register_forward_hook(lambda _m, _a, out: seen.update(mha=out[0])))
    visual(_images(4))
    for handle in handles:
        handle.remove()
    expected = seen["mha"] if batch_first else seen["mha"].transpose(0, 1)
    got = seen["v.0"] @ attn.out_proj.weight.T + attn.out_proj.bias
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["activation", "mudsc", "weight"])
@pytest.mark.parametrize("batch_first", [True, False])
@torch.no_grad()
def test_methods_recover_a_random_permutation(method: str, batch_first: bool) -> None:
    visual = _tower(layers=2, width=96)
    other, perms = _permuted_copy(visual, width=96)
    for model in (visual, other):
        model.transformer.batch_first = batch_first
        for block in model.transformer.resblocks:
            block.attn.batch_first = batch_first
    result = align(method, visual, other, _images(16), batch_size=6)
    for name, perm in perms.items():
        assert torch.equal(result.perms[name], invert(perm)), name
    aligned = _tower(width=96)
    aligned.load_state_dict(result.state)
    for key, value in visual.state_dict().items():
        torch.testing.assert_close(aligned.state_dict()[key], value, atol=1e-6, rtol=0)
    x = _images(4)
    torch.testing.assert_close(aligned(x), visual(x), atol=1e-5, rtol=0)
    assert result.diagnostics["objective"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("method", sorted(ALIGN_METHODS))
def test_identical_models_align_to_identity(method: str) -> None:
    visual = _tower()
    twin = _tower()
    result = align(method, visual, twin, _images(), lam=0.3, seed=3)
    for name, stats in result.diagnostics["perms"].items():
        assert stats["identity_fraction"] == 1.0, name
        assert stats["weight_similarity"] == pytest.approx(1.0, abs=1e-5)


def test_mudsc_never_ends_below_its_activation_start() -> None:
    reference, other, x = _tower(seed=0), _tower(seed=1), _images(16)
    result = align("mudsc", reference, other, x, lam=0.5)
    assert 1 <= result.diagnostics["sweeps"] <= 100
    start = align("activation", reference, other, x).diagnostics["perms"].values()
    blended = np.mean([0.5 * (s["weight_similarity"] + s["activation_similarity"]) for s in start])
    assert result.diagnostics["objective"] >= blended - 1e-9


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown alignment method"):
        align("zip", _tower(), _tower(), _images())


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="different architectures"):
        align("identity", _tower(), _tower(layers=1), _images())
    with pytest.raises(ValueError, match="lam"):
        align("mudsc", _tower(), _tower(), _images(), lam=1.5)
