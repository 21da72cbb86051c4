"""Zipping: a model zipped with itself is itself, partial zips interpolate between the
ensemble and the zip, and K-model zips agree with pairwise alignment."""

from __future__ import annotations

import copy

import pytest
import torch

from neulig.align import align, apply_permutations
from neulig.align.greedy_zip import greedy_zip, merge_matrix
from neulig.align.perm_specs import spec_for
from neulig.align.vit_perms import random_permutations
from neulig.align.zip_models import partial_zip, zip_models
from neulig.resnet import reset_bn
from tests.test_align import _images as _vit_images
from tests.test_align import _tower
from tests.test_align_resnet import _resnet as _jittered
from tests.test_align_resnet import one_thread  # noqa: F401 (autouse fixture)


def _images(n: int) -> torch.Tensor:
    """16 x 16 images: at 8 x 8, stage 3 sees 2 x 2 pixels and some units are constant (dead)
    on them; a constant unit correlates with nothing, not even its twin, so S_a cannot pair
    it."""
    return torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(7))


def _resnet(norm: str, seed: int = 0) -> torch.nn.Module:
    """A jittered ResNet with BN statistics of the test images (the jittered statistics would
    leave channels constant, as above)."""
    return reset_bn(_jittered(norm, seed), _images(64)).eval()


def _assert_same_state(state: dict, model: torch.nn.Module) -> None:
    for key, value in model.state_dict().items():
        torch.testing.assert_close(state[key], value, atol=1e-5, rtol=0, msg=key)


# the GN model has two units in block 6 that are constant (dead) on the calibration images:
# activations alone (ZipIt) cannot tell them apart, so GN is zipped with the weights too
@pytest.mark.parametrize(("norm", "lam"), [("bn", 0.0), ("bn", 0.5), ("gn", 0.5)])
def test_resnet_zipped_with_itself_is_itself(norm: str, lam: float) -> None:
    model = _resnet(norm)
    result = zip_models([model, copy.deepcopy(model)], _images(16), lam=lam, batch_size=8)
    _assert_same_state(result.state, model)
    assert set(result.diagnostics["uneven_units"].values()) == {0}


def test_vit_zipped_with_itself_is_itself() -> None:
    visual = _tower(width=96)
    result = zip_models([visual, copy.deepcopy(visual)], _vit_images(8), lam=0.5)
    _assert_same_state(result.state, visual)


@torch.no_grad()
def test_partial_zip_at_depth_zero_is_the_ensemble() -> None:
    models = [_resnet("bn", seed=0), _resnet("bn", seed=1)]
    result = zip_models(models, _images(16))
    x = _images(4)
    outputs = partial_zip(models, result, stop=0).eval()(x)
    for out, model in zip(outputs, models, strict=True):
        torch.testing.assert_close(out, model(x), atol=0, rtol=0)


@pytest.mark.parametrize("stop", [1, 4, 10])
@torch.no_grad()
def test_partial_zip_of_permuted_copies_keeps_every_output(stop: int) -> None:
    model = _resnet("bn")
    spec = spec_for(model)
    other = _resnet("bn", seed=5)
    perms = random_permutations(spec, torch.Generator().manual_seed(2))
    other.load_state_dict(apply_permutations(model.state_dict(), perms, spec))
    result = zip_models([model, other], _images(16))
    x = _images(4)
    for out in partial_zip([model, other], result, stop).eval()(x):
        torch.testing.assert_close(out, model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm", ["bn", "gn"])
def test_three_model_zip_matches_pairwise_alignment(norm: str) -> None:
    model = _resnet(norm)
    spec = spec_for(model)
    copies = [model]
    for seed in (1, 2):
        other = _resnet(norm, seed=10 + seed)
        perms = random_permutations(spec, torch.Generator().manual_seed(seed))
        other.load_state_dict(apply_permutations(model.state_dict(), perms, spec))
        copies.append(other)
    # alpha = 1: undamped, so the third twin joins a merged pair at the same similarity
    result = zip_models(copies, _images(16), alpha=1.0, beta=0.0, batch_size=8)
    _assert_same_state(result.state, model)
    for k in (1, 2):
        pairwise = align("activation", model, copies[k], _images(16)).perms
        for name, zip_p in result.transforms.items():
            d = spec.perms[name].size
            members = zip_p[k * d : (k + 1) * d]  # model k's unit -> merged unit
            assert torch.equal(members.argmax(0), pairwise[name]), name


def test_greedy_zip_budget_and_damping() -> None:
    # units 0, 1 of model 0 are near-twins; model 1's units are unlike both
    sim = torch.tensor(
        [[1.0, 0.9, 0.1, 0.0], [0.9, 1.0, 0.0, 0.1], [0.1, 0.0, 1.0, 0.2], [0.0, 0.1, 0.2, 1.0]]
    )
    free = greedy_zip(sim, models=2, alpha=0.5, beta=1.0)
    assert free[:, 0].tolist() == [1, 1, 0, 0]  # the same-model pair merges first
    masked = greedy_zip(sim, models=2, alpha=0.5, beta=0.0)
    assert masked.sum(0).tolist() == [2, 2] and masked[0].tolist() == [1, 0]
    assert masked[:2].sum().item() == 2 and masked[2:].sum().item() == 2
    torch.testing.assert_close(merge_matrix(masked).sum(0), torch.ones(2))
    with pytest.raises(ValueError, match="alpha"):
        greedy_zip(sim, models=2, alpha=0.0, beta=1.0)


@pytest.mark.parametrize("stop", [0, 1, 3])
@torch.no_grad()
def test_vit_partial_zip_of_permuted_copies_keeps_every_output(stop: int) -> None:
    visual = _tower(width=96)
    spec = spec_for(visual)
    other = _tower(seed=5, width=96)
    perms = random_permutations(spec, torch.Generator().manual_seed(2))
    other.load_state_dict(apply_permutations(visual.state_dict(), perms, spec))
    result = zip_models([visual, other], _vit_images(8))
    x = _vit_images(4)
    outputs = partial_zip([visual, other], result, stop).eval()(x)
    assert len(outputs) == 2
    for out in outputs:
        torch.testing.assert_close(out, visual(x), atol=1e-5, rtol=0)
