"""Import Hugging Face ``transformers`` CLIP vision experts as open_clip vision-tower checkpoints.

FusionBench publishes its fine-tuned CLIP ViT-B/32 experts as one Hugging Face repo per task
(``tanganke/clip-vit-base-patch32_<task>``), each a ``transformers`` ``CLIPVisionModel``. This
module renames their weights into open_clip's ``VisionTransformer`` layout, so the experts merge
and evaluate like the project's own. ``transformers`` is optional and imported on first use.
"""

from __future__ import annotations

import os

import torch

from neulig.io import ArtifactError, save_checkpoint
from neulig.models import create_clip, create_vision_tower

StateDict = dict[str, torch.Tensor]

# per-block renames, transformers -> open_clip (q/k/v are concatenated separately)
_BLOCK = {
    "self_attn.out_proj": "attn.out_proj",
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}
_VISION_ROOTS = ("embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm.")
_OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}


def convert_state_dict(hf_state: StateDict, projection: torch.Tensor | None = None) -> StateDict:
    """Map a ``CLIPVisionModel(WithProjection)`` state dict onto open_clip's ``VisionTransformer``.

    Args:
        hf_state: the model's ``state_dict()``: the encoder's keys (``embeddings.*``,
            ``encoder.*``, ...; with or without the ``vision_model.`` prefix) and, with
            projection, ``visual_projection.weight`` ([embed_dim, width]). Other keys (a full
            ``CLIPModel``'s text tower) are ignored.
        projection: open_clip's ``proj`` ([width, embed_dim]); when given it replaces the
            state's own projection, and it is required when the state has none.

    Returns:
        The open_clip state dict (tensors shared with ``hf_state``, except the fused q/k/v).

    Raises:
        ValueError: ``hf_state`` is not a CLIP vision transformer, or no projection is known.
    """
    # transformers 4 prefixes the encoder with "vision_model." in every class; transformers 5
    # drops the prefix in CLIPVisionModel's own state dict and files
    vision = {}
    for key, tensor in hf_state.items():
        key = key.removeprefix("vision_model.")
        if key.startswith(_VISION_ROOTS):
            vision[key] = tensor
    vision.pop("embeddings.position_ids", None)  # a buffer that older transformers saved

    def take(key: str) -> torch.Tensor:
        if key not in vision:
            raise ValueError(f"not a CLIP vision state dict: no '{key}'")
        return vision.pop(key)

    out = {
        "class_embedding": take("embeddings.class_embedding"),
        "positional_embedding": take("embeddings.position_embedding.weight"),
        "conv1.weight": take("embeddings.patch_embedding.weight"),
    }
    for kind in ("weight", "bias"):
        out[f"ln_pre.{kind}"] = take(f"pre_layrnorm.{kind}")  # sic: transformers' spelling
        out[f"ln_post.{kind}"] = take(f"post_layernorm.{kind}")
    layer = 0
    while f"encoder.layers.{layer}.layer_norm1.weight" in vision:
        src, dst = f"encoder.layers.{layer}.", f"transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            # nn.MultiheadAttention keeps q, k, v as one [3 * width, width] input projection
            qkv = [take(f"{src}self_attn.{p}_proj.{kind}") for p in "qkv"]
            out[f"{dst}attn.in_proj_{kind}"] = torch.cat(qkv)
            for hf_name, clip_name in _BLOCK.items():
                out[f"{dst}{clip_name}.{kind}"] = take(f"{src}{hf_name}.{kind}")
        layer += 1
    if vision:
        raise ValueError(f"not a CLIP vision state dict: unexpected '{min(vision)}'")
    if projection is None:
        if "visual_projection.weight" not in hf_state:
            raise ValueError("no visual projection: pass `projection` from the base CLIP model")
        projection = hf_state["visual_projection.weight"].T
    out["proj"] = projection.contiguous()
    return out


def _load_hf_model(repo_or_path: str, revision: str | None):
    """The transformers model and its loading info; any failure as one ArtifactError line."""
    try:
        from transformers import CLIPVisionModelWithProjection
    except ImportError as err:
        raise ArtifactError(
            "importing Hugging Face experts needs transformers: pip install transformers"
        ) from err
    try:
        return CLIPVisionModelWithProjection.from_pretrained(
            repo_or_path, revision=revision, output_loading_info=True
        )
    except Exception as err:  # transformers/hub raise many types; all mean "no model here"
        hint = ""
        if os.environ.get("HF_HUB_OFFLINE", "").upper() in _OFFLINE_VALUES:
            hint = (
                f" (HF_HUB_OFFLINE is set: downloads are off; run `hf download {repo_or_path}`"
                " where the hub is reachable, or pass a local folder)"
            )
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ArtifactError(
            f"cannot load '{repo_or_path}' from Hugging Face: {reason}{hint}"
        ) from err


def import_hf_expert(
    repo_or_path: str,
    out_path: str | os.PathLike,
    architecture: str = "ViT-B-32",
    task: str | None = None,
    pretrained: str = "openai",
    revision: str | None = None,
) -> None:
    """Fetch a Hugging Face CLIP vision model and write it as an open_clip checkpoint.

    FusionBench fine-tunes only the vision encoder and publishes a ``CLIPVisionModel`` without
    the visual projection; the projection is then taken from the base open_clip model
    (``architecture`` with ``pretrained`` weights), which is the one the expert was trained
    with. A repo that holds its own projection (``CLIPVisionModelWithProjection``, ``CLIPModel``)
    keeps it.

    Args:
        repo_or_path: hub repo id (e.g. ``tanganke/clip-vit-base-patch32_gtsrb``) or a local
            folder written by ``save_pretrained``.
        out_path: the ``.safetensors`` checkpoint to write; its JSON sidecar goes beside it.
        architecture: the open_clip architecture the weights must fit.
        task: the task recorded in the sidecar (merging keys experts by it); None for a base.
        pretrained: open_clip tag or weights file of the base model; recorded in the sidecar.
        revision: hub revision (branch, tag or commit) to pin; None for the default branch.

    Raises:
        ArtifactError: transformers is missing, the model cannot be fetched (offline, firewall,
            typo), or its weights do not fit ``architecture``.
    """
    model, loading = _load_hf_model(repo_or_path, revision)
    projection = None
    if "visual_projection.weight" in loading["missing_keys"]:  # transformers filled it randomly
        projection = create_clip(architecture, pretrained).visual.proj.detach()
    state = convert_state_dict(model.float().state_dict(), projection)
    try:
        create_vision_tower(architecture).load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(line.strip() for line in str(err).splitlines()[:2])
        raise ArtifactError(
            f"{repo_or_path}: weights do not fit open_clip {architecture} ({detail}); "
            "pass the architecture the expert was fine-tuned from"
        ) from err
    info = {
        "architecture": architecture,
        "pretrained": pretrained,
        "task": task,
        "source": {"hf": repo_or_path, "revision": revision},
    }
    save_checkpoint(out_path, state, info)
