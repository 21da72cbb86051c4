"""The shipped CLIP: only the token rows pretraining touched are stored, the model comes back."""

from __future__ import annotations

import pytest
import torch

from neulig import io, shipped_clip
from neulig.errors import ArtifactError
from neulig.models import create_tokenizer
from neulig.pretrain import load_pretrained, pretrain_clip, world_pool

MODEL = "NeuLig-Tiny-ViT-32"
RECIPE = {"steps": 4, "batch_size": 16, "lr": 1e-3, "weight_decay": 0.1, "warmup_steps": 1}


@pytest.fixture(scope="module")
def trained():
    pool = world_pool({"n": 64}, 32, seed=3, tokenizer=create_tokenizer(MODEL))
    model = pretrain_clip(pool, MODEL, {**RECIPE, "seed": 3}, torch.device("cpu"))
    return model.state_dict(), pool[1]


def test_the_file_keeps_only_the_touched_rows_and_loads_back_equal(trained, tmp_path):
    state, tokens = trained
    small = shipped_clip.compact(state, MODEL, seed=3)
    # every caption token but padding (0), which sits after the end token and gets no gradient
    assert set(small[shipped_clip.ROWS].tolist()) == set(tokens.unique().tolist()) - {0}
    path = tmp_path / "clip.safetensors"
    io.save_tensors(path, small)
    assert path.stat().st_size < 0.3 * sum(v.numel() * 4 for v in state.values())
    assert shipped_clip.is_shipped(path)
    loaded = load_pretrained(MODEL, str(path)).state_dict()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=1e-6)


def test_another_architecture_is_one_line_naming_the_file(trained, tmp_path):
    path = tmp_path / "clip.safetensors"
    io.save_tensors(path, shipped_clip.compact(trained[0], MODEL, seed=3))
    with pytest.raises(ArtifactError, match="clip.safetensors: not a NeuLig-Small-ViT-8 CLIP"):
        shipped_clip.load("NeuLig-Small-ViT-8", path)


def test_model_logit_scale_sets_the_heads_temperature_and_none_keeps_the_learned_one(
    trained, tmp_path
):
    from neulig.data.packed import Task
    from neulig.pretrain import provide_pretrained

    path = tmp_path / "clip.safetensors"
    io.save_tensors(path, shipped_clip.compact(trained[0], MODEL, seed=3))
    task = Task("t", ["cat", "dog"], ["a photo of a {}."], {}, {})
    params = {"model": MODEL, "pretrained": str(path), "recipe": {}}
    learned = float(trained[0]["logit_scale"].exp())
    for scale, expected in ((None, learned), (10.0, 10.0)):
        model, heads, _ = provide_pretrained(
            {**params, "logit_scale": scale}, [task], torch.device("cpu"), None
        )
        assert float(heads["t/scale"]) == pytest.approx(expected, rel=1e-5)
        assert float(model.logit_scale.exp()) == pytest.approx(expected, rel=1e-5)
    assert learned != pytest.approx(10.0, rel=0.05)
