"""Hugging Face CLIP vision experts convert to open_clip towers that compute the same features."""

import json

import pytest
import torch

from neulig.hf_import import convert_state_dict, import_hf_expert
from neulig.io import ArtifactError, read_json
from neulig.models import create_clip, create_vision_tower, load_vision_tower

transformers = pytest.importorskip("transformers")

TINY_HF = "HF-Tiny-ViT-8"
TINY_CONFIG = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {
        "image_size": 32,
        "layers": 2,
        "width": 64,
        "patch_size": 8,
        "head_width": 32,
        "mlp_ratio": 2.0,
    },
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def architecture(tmp_path_factory) -> str:
    """The open_clip twin of the tiny transformers model, registered under ``TINY_HF``."""
    import open_clip

    folder = tmp_path_factory.mktemp("model_configs")
    (folder / f"{TINY_HF}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder)
    return TINY_HF


@pytest.fixture(scope="module")
def hf_model():
    config = transformers.CLIPVisionConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=32,
        patch_size=8,
        projection_dim=32,
        hidden_act="quick_gelu",
    )
    torch.manual_seed(0)
    return transformers.CLIPVisionModelWithProjection(config).eval()


@pytest.fixture
def pixels() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_converted_tower_matches_image_embeds(architecture, hf_model, pixels):
    tower = create_vision_tower(architecture).eval()
    tower.load_state_dict(convert_state_dict(hf_model.state_dict()), strict=True)
    with torch.no_grad():
        expected = hf_model(pixel_values=pixels).image_embeds
        torch.testing.assert_close(tower(pixels), expected, atol=1e-4, rtol=0)


def test_import_writes_a_loadable_checkpoint(architecture, hf_model, pixels, tmp_path):
    hf_model.save_pretrained(tmp_path / "hf")
    out = tmp_path / "expert.safetensors"
    import_hf_expert(str(tmp_path / "hf"), out, architecture=architecture, task="gtsrb")
    info = read_json(out.with_suffix(".json"))
    assert info["architecture"] == architecture and info["task"] == "gtsrb"
    with torch.no_grad():
        expected = hf_model(pixel_values=pixels).image_embeds
        torch.testing.assert_close(load_vision_tower(out)(pixels), expected, atol=1e-4, rtol=0)


def test_projection_comes_from_the_base_model_when_the_repo_has_none(
    architecture, hf_model, pixels, tmp_path
):
    # FusionBench's layout: a CLIPVisionModel, i.e. the encoder without visual_projection
    hf_model.save_pretrained(tmp_path / "with_projection")
    encoder = transformers.CLIPVisionModel.from_pretrained(tmp_path / "with_projection").eval()
    encoder.save_pretrained(tmp_path / "hf")
    base = create_clip(architecture, None, seed=7)
    torch.save(base.state_dict(), tmp_path / "base.pt")
    out = tmp_path / "expert.safetensors"
    import_hf_expert(
        str(tmp_path / "hf"), out, architecture=architecture, pretrained=str(tmp_path / "base.pt")
    )
    tower = load_vision_tower(out)
    torch.testing.assert_close(tower.proj, base.visual.proj)
    with torch.no_grad():
        expected = encoder(pixel_values=pixels).pooler_output @ base.visual.proj
        torch.testing.assert_close(tower(pixels), expected, atol=1e-4, rtol=0)


def test_convert_reads_the_bare_encoder_and_needs_a_projection(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path)
    encoder = transformers.CLIPVisionModel.from_pretrained(tmp_path).state_dict()
    with pytest.raises(ValueError, match="projection"):
        convert_state_dict(encoder)
    proj = hf_model.visual_projection.weight.T
    converted = convert_state_dict(encoder, proj)
    for key, tensor in convert_state_dict(hf_model.state_dict()).items():
        torch.testing.assert_close(converted[key], tensor, rtol=0, atol=0)


def test_offline_missing_model_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ArtifactError, match="HF_HUB_OFFLINE") as err:
        import_hf_expert(str(tmp_path / "absent"), tmp_path / "out.safetensors")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out.safetensors").exists()


def test_wrong_architecture_is_reported(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path / "hf")
    with pytest.raises(ArtifactError, match="do not fit open_clip NeuLig-Tiny-ViT-32"):
        import_hf_expert(str(tmp_path / "hf"), tmp_path / "x.safetensors", "NeuLig-Tiny-ViT-32")
