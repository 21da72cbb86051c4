"""Per-sample merging in linear form (one GEMM per layer over stacked experts) is exact.

The reference is ``ExpertStack.forward_per_sample_vmap``, which builds every input's merged
weights and runs the tower on them. All comparisons are float32, max abs diff <= 1e-5 on
features of magnitude ~1-3 (measured diffs are ~1e-6: summation order only).
"""

from __future__ import annotations

import copy

import open_clip
import pytest
import torch
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer

from neulig.dynamic_merge import ExpertStack
from neulig.merging.per_sample import stack_states
from neulig.merging.per_sample_towers import linear_per_sample
from neulig.models import Preprocess, create_clip

from .conftest import TINY

ATOL = 1e-5


def _jitter(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Perturb every vector parameter: fresh inits share LayerNorm/LayerScale values and zero
    attention biases across seeds, which would leave their per-input mixing untested.
    (Matrices already differ by seed.)"""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return module.eval()


def _betas(n: int, t: int, seed: int = 0) -> torch.Tensor:
    return torch.softmax(2 * torch.randn(n, t, generator=torch.Generator().manual_seed(seed)), -1)


def _images(n: int, size: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(n)
    return torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=gen)


@pytest.fixture(scope="module")
def tiny():
    towers = [_jitter(create_clip(TINY, None, seed=s).visual, s) for s in range(3)]
    return towers, ExpertStack(copy.deepcopy(towers[0]), [t.state_dict() for t in towers])


@pytest.mark.parametrize("mode", ["fold", "layerwise"])
def test_linear_equals_vmap_on_tiny_tower(tiny, mode):
    _, stack = tiny
    images, betas = _images(10, 32), _betas(10, 3)
    linear = stack.forward_per_sample(betas, images, chunk=4, mode=mode)
    reference = stack.forward_per_sample_vmap(betas, images, chunk=4)
    assert (linear - reference).abs().max() <= ATOL


def test_linear_equals_vmap_on_vit_b32():
    towers = []
    for seed in range(2):
        torch.manual_seed(seed)
        visual = open_clip.create_model("ViT-B-32", pretrained=None).visual
        towers.append(_jitter(visual, seed))
    stack = ExpertStack(towers[0], [t.state_dict() for t in towers])
    images, betas = _images(2, 224), _betas(2, 2)
    reference = stack.forward_per_sample_vmap(betas, images)
    for mode in ("fold", "layerwise"):
        diff = stack.forward_per_sample(betas, images, mode=mode) - reference
        assert diff.abs().max() <= ATOL, mode


@pytest.mark.parametrize("mode", ["fold", "layerwise"])
def test_one_hot_rows_reproduce_each_expert(tiny, mode):
    towers, stack = tiny
    images = _images(6, 32)
    x = Preprocess.for_tower(towers[0])(images)
    pick = torch.tensor([0, 1, 2, 2, 1, 0])  # a different expert per input, in one batch
    with torch.no_grad():
        expected = torch.stack([towers[t](x[i : i + 1])[0] for i, t in enumerate(pick.tolist())])
    got = linear_per_sample(stack.module, stack.stacked, torch.eye(3)[pick], x, mode)
    assert (got - expected).abs().max() <= ATOL


def test_uniform_beta_is_the_averaged_weights(tiny):
    towers, stack = tiny
    images = _images(5, 32)
    averaged = copy.deepcopy(towers[0])
    averaged.load_state_dict({k: v.mean(0) for k, v in stack.stacked.items()})
    with torch.no_grad():
        expected = averaged(Preprocess.for_tower(averaged)(images))
    got = stack.forward_per_sample(torch.full((5, 3), 1 / 3), images)
    assert (got - expected).abs().max() <= ATOL


def test_layer_scale_avg_pool_and_final_ln_variants():
    # Branches the CLIP configs above do not take: LayerScale, no ln_pre, average pooling
    # with the final LayerNorm after pooling, plain GELU.
    def tower(seed):
        torch.manual_seed(seed)
        vit = VisionTransformer(
            image_size=32, patch_size=8, width=32, layers=2, heads=4, mlp_ratio=2.0,
            ls_init_value=0.5, output_dim=16, no_ln_pre=True, pool_type="avg",
            final_ln_after_pool=True,
        )  # fmt: skip
        return _jitter(vit, seed)

    towers = [tower(s) for s in range(3)]
    stack = ExpertStack(towers[0], [t.state_dict() for t in towers])
    images, betas = _images(4, 32), _betas(4, 3, seed=2)
    assert stack._per_sample_tower().mode == "layerwise"  # auto on CPU; not the vmap fallback
    reference = stack.forward_per_sample_vmap(betas, images)
    for mode in ("fold", "layerwise"):
        linear = stack.forward_per_sample(betas, images, mode=mode)
        assert (linear - reference).abs().max() <= ATOL, mode


def test_unsupported_tower_is_refused_by_name_and_falls_back_to_vmap():
    # A parameterised activation has no per-sample rule in the ResNet form; vmap still merges it.
    towers = []
    for seed in range(2):
        torch.manual_seed(seed)
        tower = ModifiedResNet((1, 1, 1, 1), output_dim=16, heads=2, image_size=64, width=8)
        tower.layer1[0].act1 = torch.nn.PReLU(init=0.1 + 0.2 * seed)
        towers.append(tower.eval())
    states = stack_states([t.state_dict() for t in towers])
    x = torch.randn(2, 3, 64, 64)
    with pytest.raises(NotImplementedError, match="ModifiedResNet.*act1.weight"):
        linear_per_sample(towers[0], states, _betas(2, 2), x)
    stack = ExpertStack(towers[0], [t.state_dict() for t in towers])
    images, betas = _images(2, 64), _betas(2, 2)
    got = stack.forward_per_sample(betas, images)
    assert torch.equal(got, stack.forward_per_sample_vmap(betas, images))


def test_training_mode_is_refused(tiny):
    towers, stack = tiny
    module = copy.deepcopy(towers[0]).train()
    with pytest.raises(NotImplementedError, match="eval"):
        linear_per_sample(module, stack.stacked, _betas(1, 3), torch.zeros(1, 3, 32, 32))
