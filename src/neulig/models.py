"""open_clip models: creation, vision towers, zero-shot heads and image preprocessing.

The project's tiny offline model is a regular open_clip architecture (``model_configs/``), so
the offline default and the paper profile (``ViT-B-32`` / ``openai``) run through the same code.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from neulig.io import REBUILD, ArtifactError, load_checkpoint

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]

# Keys under this prefix carry what a method learned besides the tower's weights (WeMoE's
# routers). Module parameter names use dots, never "/", so the prefix cannot collide with one.
EXTRA_PREFIX = "extra/"


def split_extra(state: StateDict) -> tuple[StateDict, StateDict]:
    """``(tower weights, extras)``: the extras keep their keys without :data:`EXTRA_PREFIX`."""
    tower = {k: v for k, v in state.items() if not k.startswith(EXTRA_PREFIX)}
    extra = {k[len(EXTRA_PREFIX) :]: v for k, v in state.items() if k.startswith(EXTRA_PREFIX)}
    return tower, extra


@functools.cache
def _open_clip():
    """open_clip, imported on first use (steps that only read features skip its ~1.5 s import),
    with the project's model configs registered."""
    import open_clip

    open_clip.add_model_config(Path(str(files("neulig") / "model_configs")))
    return open_clip


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def create_clip(model_name: str, pretrained: str | None, seed: int = 0) -> nn.Module:
    """Build an open_clip CLIP; ``pretrained`` is a tag, a local file, or None for random init.

    Raises:
        ArtifactError: the weights cannot be found or fetched (offline, firewall, typo).
    """
    open_clip = _open_clip()
    if model_name not in open_clip.list_models():
        raise ArtifactError(
            f"model '{model_name}' is not an open_clip architecture; "
            f"pick one of open_clip.list_models() (e.g. ViT-B-32, NeuLig-Tiny-ViT-32)"
        )
    torch.manual_seed(seed)
    try:
        model = open_clip.create_model(model_name, pretrained=pretrained or None)
    except Exception as err:  # open_clip/hub raise many types; all mean "no weights here"
        hint = ""
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            hint = " (HF_HUB_OFFLINE=1: downloads are off; put the weights file in place "
            hint += "and set `pretrained` to its path)"
        raise ArtifactError(
            f"cannot load weights '{pretrained}' for {model_name}: {err}{hint}"
        ) from err
    return model.eval()


def create_tokenizer(model_name: str):
    return _open_clip().get_tokenizer(model_name)


def create_vision_tower(model_name: str) -> nn.Module:
    """An uninitialised vision tower of ``model_name`` (weights come from a checkpoint)."""
    return create_clip(model_name, pretrained=None).visual


def load_vision_tower(path: str | os.PathLike, device: torch.device | str = "cpu") -> nn.Module:
    """Load a vision-tower checkpoint written by :func:`neulig.io.save_checkpoint`.

    Extras a merge method stored beside the weights (``extra/...``, e.g. WeMoE's routers) are
    skipped: the tower is the method's static merge.
    """
    state, info = load_checkpoint(path)
    state, _ = split_extra(state)
    visual = create_vision_tower(info["architecture"])
    try:
        visual.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ArtifactError(
            f"{path}: does not match architecture {info['architecture']} ({first}); {REBUILD}"
        ) from err
    return visual.to(device).eval()


def _layout_difference(state: StateDict, reference: StateDict) -> str | None:
    """How ``state``'s keys and shapes differ from ``reference``'s, or None when they agree."""
    missing = [k for k in reference if k not in state]
    unexpected = [k for k in state if k not in reference]
    parts = [f"{len(missing)} key(s) missing, e.g. '{missing[0]}'"] if missing else []
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s), e.g. '{unexpected[0]}'")
    if parts:
        return "; ".join(parts)
    for key, tensor in reference.items():
        if state[key].shape != tensor.shape:
            return f"'{key}' is {list(state[key].shape)}, expected {list(tensor.shape)}"
    return None


def check_expert(
    path: str | os.PathLike, state: StateDict, reference: StateDict, architecture: str
) -> None:
    """Raise a one-line :class:`ArtifactError` naming ``path`` unless the expert ``state`` has
    the keys and shapes of ``reference``, a tower of ``architecture``.

    Merges and routers combine experts key by key; a tower of another architecture would
    otherwise fail deep inside a method (a KeyError, a size mismatch) that names no file.
    """
    detail = _layout_difference(split_extra(state)[0], split_extra(reference)[0])
    if detail:
        raise ArtifactError(
            f"{path}: does not match architecture {architecture} ({detail}); "
            "delete it and rerun the step that wrote it"
        )


@dataclass(frozen=True)
class Preprocess:
    """Turns packed uint8 NHWC images into the tower's normalised NCHW input."""

    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def for_tower(cls, visual: nn.Module) -> Preprocess:
        size = visual.image_size
        size = size[0] if isinstance(size, tuple | list) else size
        cfg = getattr(visual, "preprocess_cfg", {}) or {}
        mean = tuple(cfg.get("mean", _open_clip().OPENAI_DATASET_MEAN))
        std = tuple(cfg.get("std", _open_clip().OPENAI_DATASET_STD))
        return cls(int(size), mean, std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = self._resize(x)
        return self._normalize(x)

    def random_resized_crop(self, images: torch.Tensor, generator: torch.Generator):
        """open_clip's train preprocessing: each image's :func:`crop_boxes` box, resized to the
        tower's input side, then normalised (evaluation keeps :meth:`__call__`)."""
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        boxes = crop_boxes(len(x), x.shape[-2], x.shape[-1], generator).tolist()
        crops = [self._resize(img[None, :, i : i + h, j : j + w]) for img, (i, j, h, w) in
                 zip(x, boxes, strict=True)]  # fmt: skip
        return self._normalize(torch.cat(crops))

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        size = (self.image_size, self.image_size)
        return F.interpolate(x, size=size, mode="bicubic", antialias=True).clamp_(0, 1)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std


# open_clip's train transform (AugmentationCfg defaults, used by the paper's finetune_clean.py):
# RandomResizedCrop with scale (0.9, 1.0) and torchvision's default aspect ratios.
CROP_SCALE = (0.9, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
CROP_TRIES = 10


def crop_boxes(n: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """``[n, 4]`` boxes ``(top, left, h, w)`` drawn as torchvision's
    ``RandomResizedCrop.get_params``: up to 10 tries of a random area fraction and log-uniform
    aspect ratio; a sample whose tries all fall outside the image gets the centre crop of the
    closest allowed ratio (the whole image for a square one)."""
    area = torch.empty(n, CROP_TRIES).uniform_(*CROP_SCALE, generator=generator) * height * width
    log_ratio = torch.empty(n, CROP_TRIES).uniform_(
        math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), generator=generator
    )
    w = (area * log_ratio.exp()).sqrt().round().long()
    h = (area / log_ratio.exp()).sqrt().round().long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.long().argmax(dim=1, keepdim=True)  # first valid try (0 when none is valid)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    ratio = min(max(width / height, CROP_RATIO[0]), CROP_RATIO[1])
    if width / height < ratio:
        fw, fh = width, round(width / ratio)
    else:
        fw, fh = round(height * ratio), height
    found = ok.any(dim=1)
    w, h = torch.where(found, w, fw), torch.where(found, h, fh)
    u = torch.rand(n, 2, generator=generator)
    top = torch.where(found, (u[:, 0] * (height - h + 1)).long(), (height - h) // 2)
    left = torch.where(found, (u[:, 1] * (width - w + 1)).long(), (width - w) // 2)
    return torch.stack([top, left, h, w], dim=1)


@dataclass
class Head:
    """A frozen zero-shot classification head: ``scale * normalize(z) @ weight.T``."""

    weight: torch.Tensor  # [classes, embed_dim], unit-norm text embeddings
    scale: float

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(features, dim=-1) @ self.weight.to(features).T

    def to_tensors(self) -> StateDict:
        return {"weight": self.weight, "scale": torch.tensor(self.scale)}

    @classmethod
    def from_tensors(cls, tensors: StateDict) -> Head:
        return cls(tensors["weight"].float(), float(tensors["scale"]))


@torch.no_grad()
def build_head(model: nn.Module, tokenizer, classnames: list[str], templates: list[str]) -> Head:
    """Zero-shot head from the text tower: mean of class-name x template embeddings."""
    weight = _open_clip().build_zero_shot_classifier(
        model, tokenizer, classnames, templates, num_classes_per_batch=10, device="cpu"
    )
    return Head(weight.T.contiguous().float(), float(model.logit_scale.exp()))


@torch.no_grad()
def encode_images(
    visual: nn.Module,
    images: torch.Tensor,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """Image features (raw, unnormalised) of uint8 NHWC ``images``."""
    visual = visual.to(device).eval()
    prep = Preprocess.for_tower(visual)
    chunks = range(0, len(images), batch_size)
    out = [
        visual(prep(images[i : i + batch_size].to(device))).float().cpu()
        for i in tqdm(chunks, disable=not progress, desc="encode", leave=False)
    ]
    if not out:
        return torch.empty(0, 0)
    return torch.cat(out)
