"""ResNet alignment: the spec is an exact symmetry (BN and GN), covers every tensor, and every
align method recovers a known permutation; BN statistics can be re-estimated."""

from __future__ import annotations

import pytest
import torch

from neulig.align import align, apply_permutations
from neulig.align.resnet_perms import resnet_spec
from neulig.align.vit_perms import invert, random_permutations
from neulig.resnet import ResNet, reset_bn


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the test machine's cores are shared, and oversubscribed intra-op
    threads make these small convolutions tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _resnet(norm: str, seed: int = 0) -> ResNet:
    """A small ResNet-20 whose parameters and BN statistics are all away from their init, so a
    wrong permutation of any of them shows up in the outputs."""
    torch.manual_seed(seed)
    model = ResNet(width=1, embed_dim=12, in_channels=1, norm=norm, groups=4).eval()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if "running_var" in name:
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))
    return model


def _images(n: int = 8) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(7))


def _permuted(model: ResNet, seed: int = 1) -> tuple[ResNet, dict]:
    spec = resnet_spec(model)
    perms = random_permutations(spec, torch.Generator().manual_seed(seed))
    other = _resnet(model.config["norm"], seed=99)
    other.load_state_dict(apply_permutations(model.state_dict(), perms, spec))
    return other, perms


@pytest.mark.parametrize("norm", ["bn", "gn"])
@torch.no_grad()
def test_random_permutation_is_an_exact_symmetry(norm: str) -> None:
    model = _resnet(norm)
    other, perms = _permuted(model)
    assert all(not torch.equal(p, torch.arange(len(p))) for p in perms.values())
    x = _images()
    torch.testing.assert_close(other(x), model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm", ["bn", "gn"])
def test_spec_covers_every_tensor(norm: str) -> None:
    model = _resnet(norm)
    spec = resnet_spec(model)
    assert [n for n in spec.perms if n.startswith("res.")] == ["res.0", "res.1", "res.2"]
    assert len([n for n in spec.perms if n.startswith("inner.")]) == 9
    assert {p.heads for p in spec.perms.values()} == ({4} if norm == "gn" else {1})
    model.head.register_buffer("extra", torch.zeros(3))
    with pytest.raises(ValueError, match="no permutation spec for .*head.extra"):
        resnet_spec(model)


@torch.no_grad()
def test_unconstrained_perm_breaks_group_norm() -> None:
    model = _resnet("gn")
    spec = resnet_spec(model)
    perms = {"inner.0": torch.roll(torch.arange(16), 1)}  # moves one channel across groups
    other = _resnet("gn")
    other.load_state_dict(apply_permutations(model.state_dict(), perms, spec))
    assert (other(_images()) - model(_images())).abs().max() > 1e-4


@pytest.mark.parametrize("method", ["weight", "activation", "mudsc"])
@pytest.mark.parametrize("norm", ["bn", "gn"])
@torch.no_grad()
def test_methods_recover_a_random_permutation(method: str, norm: str) -> None:
    model = _resnet(norm)
    other, perms = _permuted(model)
    result = align(method, model, other, _images(16), batch_size=8)
    for name, perm in perms.items():
        assert torch.equal(result.perms[name], invert(perm)), name
    for key, value in model.state_dict().items():
        torch.testing.assert_close(result.state[key], value, atol=1e-6, rtol=0)


@torch.no_grad()
def test_reset_bn_recomputes_the_statistics() -> None:
    model = _resnet("bn")
    x = _images(32)
    reset_bn(model, x, batch_size=8)
    stem = model.stem[0](x)
    torch.testing.assert_close(model.stem[1].running_mean, stem.mean((0, 2, 3)), atol=1e-5, rtol=0)
    assert model.stem[1].momentum == 0.1 and not model.training


def test_precomputed_activation_similarity_gives_the_same_alignment() -> None:
    from neulig.align.similarity import cross_blocks, joint_activation_similarity

    model, other = _resnet("bn", seed=0), _resnet("bn", seed=1)
    x = _images(16)
    fresh = align("mudsc", model, other, x, lam=0.5)
    joint = joint_activation_similarity([model, other], x)
    reused = align("mudsc", model, other, x, lam=0.5, activation=cross_blocks(joint))
    for name, perm in fresh.perms.items():
        assert torch.equal(reused.perms[name], perm), name
