"""The pretraining world: a broad captioned pool, seeded, that never draws the tasks' images."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch

from neulig.data import world


def test_the_pool_is_seeded_and_shaped():
    a_images, a_captions = world.world_pool({"n": 40}, 32, seed=0)
    b_images, b_captions = world.world_pool({"n": 40}, 32, seed=0)
    c_images, _ = world.world_pool({"n": 40}, 32, seed=1)
    assert a_images.shape == (40, 32, 32, 3) and a_images.dtype == np.uint8
    assert np.array_equal(a_images, b_images) and a_captions == b_captions
    assert not np.array_equal(a_images, c_images)
    assert all(len(c) == len(world.TEMPLATES) for c in a_captions)


def test_families_and_orientations_follow_the_spec():
    spec = {"n": 60, "families": {"stripes": 1.0}, "stripe_step": 45}
    _, captions = world.world_pool(spec, 32, seed=3)
    angles = {int(re.search(r"at (\d+) degrees", c[0]).group(1)) for c in captions}
    assert angles <= {0, 45, 90, 135} and len(angles) > 1


@pytest.mark.parametrize("chars", ["digits", "upper+lower"])
def test_glyph_captions_name_the_character(chars):
    _, captions = world.world_pool(
        {"n": 50, "families": {"glyphs": 1.0}, "glyph_chars": chars}, 32, seed=0
    )
    phrases = [c[0] for c in captions]
    if chars == "digits":
        assert all(" digit " in p for p in phrases)
    else:
        assert all(" letter " in p for p in phrases)
        assert any("small letter" in p for p in phrases)


def test_shapes_are_never_drawn_solid_as_in_the_shapes_task():
    _, captions = world.world_pool({"n": 80, "families": {"outlines": 1.0}}, 32, seed=0)
    styles = {c[0].split()[5] for c in captions}  # "a photo of a <colour> <style> ..."
    assert styles <= set(world.SHAPE_STYLES) and "solid" not in styles


def test_glyph_images_differ_from_their_background():
    images, _ = world.world_pool({"n": 20, "families": {"glyphs": 1.0}}, 32, seed=0)
    contrast = images.reshape(20, -1, 3).astype(float).std(axis=1).mean(axis=1)
    assert (contrast > 10).all()  # a character was drawn, not an empty canvas


def test_low_res_glyphs_are_blurred_captioned_so_and_leave_the_default_world_alone():
    spec = {"n": 60, "families": {"glyphs": 1.0}}
    _, plain_captions = world.world_pool(spec, 32, seed=0)
    images, captions = world.world_pool({**spec, "low_res": 0.5}, 32, seed=0)
    blurry = np.array([" blurry " in c[0] for c in captions])
    assert 10 < blurry.sum() < 50 and not any(" blurry " in c[0] for c in plain_captions)
    # a blurry glyph is its own 8x8 version blown up: neighbouring pixels barely differ
    step = np.abs(np.diff(images.astype(float), axis=2)).mean(axis=(1, 2, 3))
    assert step[blurry].max() < step[~blurry].min()
    # without low_res the pool is byte for byte the one the shipped CLIP was pretrained on
    images, captions = world.world_pool({"n": 40}, 32, seed=0)
    digest = hashlib.sha256(images.tobytes() + repr(captions).encode()).hexdigest()
    assert digest[:16] == "8c7c9f45fbf58a3a"


def test_the_pretraining_pool_adds_the_task_slices_only_when_asked():
    from neulig.data.packed import Split, Task
    from neulig.models import create_tokenizer
    from neulig.pretrain import pretraining_pool

    images = np.zeros((7, 32, 32, 3), np.uint8)
    task = Task(
        "t", ["a", "b"], ["a {}.", "the {}."], {"pretrain": Split(images, np.ones(7, int))}, {}
    )
    tokenizer = create_tokenizer("NeuLig-Tiny-ViT-32")
    world_only = {"seed": 0, "world": {"n": 5}}
    both = {"seed": 0, "world": {"n": 5, "task_slices": True}}
    pool, tokens = pretraining_pool("NeuLig-Tiny-ViT-32", world_only, [task])
    assert pool.shape[0] == 5 and tokens.shape[:2] == (5, len(world.TEMPLATES))
    pool, tokens = pretraining_pool("NeuLig-Tiny-ViT-32", both, [task])
    assert pool.shape[0] == 12 and tokens.shape[:2] == (12, 2)  # the task has two templates
    assert torch.equal(tokens[5], tokenizer(["a b.", "the b."]))
    pool, _ = pretraining_pool("NeuLig-Tiny-ViT-32", {"seed": 0}, [task])
    assert pool.shape[0] == 7  # no world: the task slices alone, as before
    some = {"seed": 0, "world": {"n": 5, "task_slices": 0.3}}
    pool, tokens = pretraining_pool("NeuLig-Tiny-ViT-32", some, [task])
    assert pool.shape[0] == 5 + 2  # round(0.3 * 7) of the task's images
    assert torch.equal(pretraining_pool("NeuLig-Tiny-ViT-32", some, [task])[1], tokens)
