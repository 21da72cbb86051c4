"""The paper's expert recipe: gradient-norm clipping and open_clip's train preprocessing
(random resized crop), both options of the fine-tuning recipe; and label smoothing, the
miniature's lever on the experts' confidence."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml

from neulig import models
from neulig.config import check_config
from neulig.errors import ConfigError
from neulig.finetune import finetune_expert
from neulig.models import Head, Preprocess, crop_boxes

from .workflow_helpers import ROOT, SCHEMA

PARAMS = {
    "lr": 1e-3,
    "weight_decay": 0.1,
    "batch_size": 4,
    "steps": 3,
    "warmup_steps": 1,
    "seed": 0,
    "grad_clip": 0,
    "augment": "none",
}


def test_crop_boxes_follow_random_resized_crop():
    boxes = crop_boxes(2000, 40, 40, torch.Generator().manual_seed(0))
    top, left, h, w = boxes.T
    assert ((top >= 0) & (left >= 0) & (top + h <= 40) & (left + w <= 40)).all()
    area = (h * w).float() / 1600
    assert area.min() >= 0.85 and area.max() <= 1.0  # scale (0.9, 1.0), up to rounding
    ratio = w.float() / h.float()
    assert ratio.min() >= 0.75 - 0.05 and ratio.max() <= 4 / 3 + 0.05
    assert (h < 40).any() and (top > 0).any()  # really random crops, not the whole image
    again = crop_boxes(2000, 40, 40, torch.Generator().manual_seed(0))
    assert torch.equal(boxes, again)


def test_crop_boxes_fall_back_to_the_centre_crop():
    # A 10:1 strip: no try of ratio 3/4..4/3 covering 90% of it fits, so torchvision's fallback,
    # the centre crop at the closest allowed ratio (4/3): full height, width round(10 * 4/3).
    boxes = crop_boxes(5, 10, 100, torch.Generator().manual_seed(0))
    assert boxes.tolist() == [[0, (100 - 13) // 2, 10, 13]] * 5


def test_random_resized_crop_resizes_each_box(towers, images, monkeypatch):
    prep = Preprocess.for_tower(towers[0])
    boxes = torch.tensor([[0, 0, 32, 32], [8, 4, 16, 20]] + [[0, 0, 32, 32]] * 4)
    monkeypatch.setattr(models, "crop_boxes", lambda n, h, w, g: boxes[:n])
    out = prep.random_resized_crop(images, torch.Generator())
    assert out.shape == prep(images).shape
    assert torch.allclose(out[0], prep(images[:1])[0], atol=1e-6)
    quadrant = images[1:2, 8:24, 4:24]
    resized = torch.nn.functional.interpolate(
        quadrant.permute(0, 3, 1, 2).float() / 255, size=(prep.image_size,) * 2,
        mode="bicubic", antialias=True,
    ).clamp(0, 1)  # fmt: skip
    assert torch.allclose(out[1], prep._normalize(resized)[0], atol=1e-5)


def _data():
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8, generator=gen)
    head = Head(torch.nn.functional.normalize(torch.randn(3, 64, generator=gen), dim=-1), 10.0)
    return images, torch.arange(8) % 3, head


def _train(towers, **overrides) -> dict[str, torch.Tensor]:
    images, labels, head = _data()
    visual = copy.deepcopy(towers[0])
    finetune_expert(visual, head, images, labels, {**PARAMS, **overrides}, torch.device("cpu"))
    return visual.state_dict()


def test_gradient_norm_is_clipped_before_each_step(towers, monkeypatch):
    norms = []
    step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    _train(towers)
    assert max(norms) > 1e-3  # unclipped gradients are larger than the clip below
    norms.clear()
    _train(towers, grad_clip=1e-3)
    assert len(norms) == PARAMS["steps"] and max(norms) <= 1e-3 * (1 + 1e-4)


def test_augmented_training_is_seeded_and_differs_from_plain(towers):
    plain = _train(towers)
    crop = _train(towers, augment="random_resized_crop")
    again = _train(towers, augment="random_resized_crop")
    assert all(torch.equal(crop[k], again[k]) for k in crop)
    assert not all(torch.equal(crop[k], plain[k]) for k in crop)


def test_label_smoothing_reaches_the_loss_and_is_off_when_absent(towers, monkeypatch):
    smoothing = []
    cross_entropy = torch.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        smoothing.append(kwargs.get("label_smoothing"))
        return cross_entropy(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    absent = _train(towers)
    zero = _train(towers, label_smoothing=0.0)
    smooth = _train(towers, label_smoothing=0.3)
    assert smoothing == [0.0] * 6 + [0.3] * 3
    assert all(torch.equal(absent[k], zero[k]) for k in absent)
    assert not all(torch.equal(smooth[k], zero[k]) for k in smooth)


@pytest.mark.parametrize("bad", [{"augment": "crop"}, {"grad_clip": -1}, {"label_smoothing": 1.0}])
def test_bad_recipe_options_fail_in_one_line(bad):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["finetune"].update(bad)
    with pytest.raises(ConfigError, match=rf"finetune\.{next(iter(bad))}") as err:
        check_config(config, SCHEMA)
    assert "\n" not in str(err.value)


def test_label_smoothing_is_rejected_in_pretraining():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["pretrain"] = {**config.get("pretrain", {}), "label_smoothing": 0.1}
    with pytest.raises(ConfigError, match=r"pretrain\.label_smoothing"):
        check_config(config, SCHEMA)
