"""Per-sample merging in linear form is exact for open_clip ModifiedResNet towers.

Reference: ``ExpertStack.forward_per_sample_vmap`` (every input's merged weights, BatchNorm
statistics included, run through the tower). The experts differ in every parameter and in
their BatchNorm running statistics, so a wrong BN rule (e.g. mixing each expert's scale
instead of computing it from the merged variance) fails by far more than the tolerance.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from neulig.dynamic_merge import ExpertStack
from neulig.merging.per_sample_resnet import PerSampleResNet
from neulig.merging.per_sample_towers import linear_per_sample, per_sample_tower
from neulig.models import Preprocess, create_clip

from .test_per_sample import ATOL, _betas, _images, _jitter

TINY_RN = "NeuLig-Tiny-RN"


def _randomise_bn(module: nn.Module, seed: int) -> nn.Module:
    """Random BN running statistics (fresh inits all have mean 0, var 1) with variances
    spread over 0.2-5, so merged and per-expert normalisations differ clearly."""
    gen = torch.Generator().manual_seed(1000 + seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.5 * torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.exp(0.8 * torch.randn(m.num_features, generator=gen)))
    return module


def _rn_experts(model: str, n: int) -> list[nn.Module]:
    towers = [create_clip(model, None, seed=s).visual for s in range(n)]
    with torch.no_grad():
        return [_randomise_bn(_jitter(t, s), s) for s, t in enumerate(towers)]


@pytest.fixture(scope="module")
def tiny_rn():
    towers = _rn_experts(TINY_RN, 5)
    return towers, ExpertStack(copy.deepcopy(towers[0]), [t.state_dict() for t in towers])


@pytest.fixture(scope="module")
def tiny_rn_reference(tiny_rn):
    images, betas = _images(12, 64), _betas(12, 5)
    return images, betas, tiny_rn[1].forward_per_sample_vmap(betas, images, chunk=5)


@pytest.mark.parametrize("mode", ["fold", "layerwise", "auto"])
def test_linear_equals_vmap_on_tiny_resnet(tiny_rn, tiny_rn_reference, mode):
    _, stack = tiny_rn
    images, betas, reference = tiny_rn_reference
    assert isinstance(stack._per_sample_tower(mode), PerSampleResNet)  # not the vmap fallback
    linear = stack.forward_per_sample(betas, images, chunk=5, mode=mode)
    assert (linear - reference).abs().max() <= ATOL


@pytest.mark.parametrize("mode", ["fold", "layerwise"])
def test_one_hot_rows_reproduce_each_resnet_expert(tiny_rn, mode):
    towers, stack = tiny_rn
    x = Preprocess.for_tower(towers[0])(_images(10, 64))
    pick = torch.tensor([0, 1, 2, 3, 4, 4, 3, 2, 1, 0])  # a different expert per input
    with torch.no_grad():
        expected = torch.cat([towers[t](x[i : i + 1]) for i, t in enumerate(pick.tolist())])
    got = linear_per_sample(stack.module, stack.stacked, torch.eye(5)[pick], x, mode)
    assert (got - expected).abs().max() <= ATOL


def test_bn_uses_merged_statistics(tiny_rn):
    # Uniform beta must equal the tower loaded with the averaged state (mean of the running
    # variances, not of each expert's 1/sqrt(var)).
    towers, stack = tiny_rn
    averaged = copy.deepcopy(towers[0])
    averaged.load_state_dict({k: v.mean(0) for k, v in stack.stacked.items()}, strict=False)
    images = _images(4, 64)
    with torch.no_grad():
        expected = averaged(Preprocess.for_tower(averaged)(images))
    got = stack.forward_per_sample(torch.full((4, 5), 0.2), images)
    assert (got - expected).abs().max() <= ATOL


def test_linear_equals_vmap_on_rn50():
    towers = _rn_experts("RN50-quickgelu", 2)
    stack = ExpertStack(towers[0], [t.state_dict() for t in towers])
    images, betas = _images(2, 224), _betas(2, 2)
    reference = stack.forward_per_sample_vmap(betas, images)
    for mode in ("fold", "layerwise", "auto"):
        diff = stack.forward_per_sample(betas, images, mode=mode) - reference
        assert diff.abs().max() <= ATOL, mode


def test_dispatch_and_refusals(tiny_rn):
    towers, stack = tiny_rn
    assert type(per_sample_tower(stack.module, stack.stacked)) is PerSampleResNet
    with pytest.raises(NotImplementedError, match="eval"):
        per_sample_tower(copy.deepcopy(towers[0]).train(), stack.stacked)
    with pytest.raises(ValueError, match="mode"):
        per_sample_tower(stack.module, stack.stacked, "fast")
