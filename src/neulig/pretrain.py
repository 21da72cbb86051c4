"""The shared starting checkpoint: fetched open_clip weights, or a tiny CLIP trained here.

Offline there is no CLIP to download, so the default trains a tiny open_clip CLIP with open_clip's
own contrastive loss on captioned images from every task's *pretrain* slice (disjoint from the
train/val/test splits). Its text tower then gives the zero-shot heads, exactly as a real CLIP's.
"""

from __future__ import annotations

import logging
import math
import os

import open_clip
import torch
from tqdm.auto import tqdm

from neulig import shipped_clip
from neulig.data import world
from neulig.data.packed import Task
from neulig.models import (
    Preprocess,
    StateDict,
    _open_clip,
    build_head,
    create_clip,
    create_tokenizer,
)
from neulig.training import (
    TrainState,
    autocast,
    batch_indices,
    seed_everything,
    step_generator,
    warmup_cosine,
)

log = logging.getLogger(__name__)


Pool = tuple[torch.Tensor, torch.Tensor]  # uint8 images [N, H, W, 3], tokens [N, captions, ctx]


def captioned_pool(tasks: list[Task], tokenizer) -> Pool:
    """All tasks' pretrain images, and for each image the token ids of every caption template."""
    images, captions = [], []
    for task in tasks:
        split = task.splits["pretrain"]
        tokens = torch.stack(
            [tokenizer([t.format(c) for t in task.templates]) for c in task.classnames]
        )  # [classes, templates, context]
        images.append(torch.from_numpy(split.images))
        captions.append(tokens[torch.from_numpy(split.labels)])
    n_templates = min(c.shape[1] for c in captions)
    return torch.cat(images), torch.cat([c[:, :n_templates] for c in captions])


def world_pool(spec: dict, size: int, seed: int, tokenizer) -> Pool:
    """The broad captioned world of :mod:`neulig.data.world` (disjoint from every task)."""
    images, captions = world.world_pool(spec, size, seed)
    tokens = tokenizer([c for per_image in captions for c in per_image])
    return torch.from_numpy(images), tokens.view(len(captions), len(captions[0]), -1)


def pretraining_pool(model_name: str, recipe: dict, tasks: list[Task]) -> Pool:
    """The recipe's ``world`` pool (with ``task_slices``: and that share of the tasks' ``pretrain``
    slices, a fixed draw), else the tasks' ``pretrain`` slices alone."""
    tokenizer = create_tokenizer(model_name)
    world = recipe.get("world")
    if not world:
        return captioned_pool(tasks, tokenizer)
    size = _open_clip().get_model_config(model_name)["vision_cfg"]["image_size"]
    images, tokens = world_pool(world, size, recipe["seed"], tokenizer)
    share = float(world.get("task_slices", 0))  # true: all of the tasks' own pretrain slices
    if share:
        task_images, task_tokens = captioned_pool(tasks, tokenizer)
        keep = torch.randperm(len(task_images), generator=torch.Generator().manual_seed(0))
        keep = keep[: max(1, round(share * len(task_images)))].sort().values
        task_images, task_tokens = task_images[keep], task_tokens[keep]
        n = min(tokens.shape[1], task_tokens.shape[1])
        images = torch.cat([images, task_images])
        tokens = torch.cat([tokens[:, :n], task_tokens[:, :n]])
    return images, tokens


def pretrain_clip(
    pool: Pool,
    model_name: str,
    params: dict,
    device: torch.device,
    state: TrainState | None = None,
    locked_text: dict[str, torch.Tensor] | None = None,
) -> torch.nn.Module:
    """Train a CLIP from scratch with :class:`open_clip.ClipLoss` on a captioned pool.

    With ``locked_text`` (another CLIP's non-visual parameters) only a freshly initialised
    vision tower learns, against that frozen text tower (LiT-style): its experts then share the
    other CLIP's zero-shot heads but none of its vision weights, the different-init setting
    that model alignment addresses.
    """
    seed = params["seed"]
    seed_everything(seed)
    state = state or TrainState(None, 0)
    model = create_clip(model_name, pretrained=None, seed=seed).to(device).train()
    if locked_text is not None:
        model.load_state_dict(locked_text, strict=False)
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("visual."))
    images, captions = pool
    prep = Preprocess.for_tower(model.visual)
    loss_fn = open_clip.ClipLoss()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=params["lr"],
        weight_decay=params["weight_decay"],
    )
    scheduler = warmup_cosine(optimizer, params["warmup_steps"], params["steps"])
    start = state.resume(model, optimizer, scheduler)
    batches = batch_indices(len(images), params["batch_size"], params["steps"], seed, start)
    bar = tqdm(batches, total=params["steps"], initial=start, desc="pretrain", mininterval=2)
    for step, idx in enumerate(bar, start=start + 1):
        choice = torch.randint(captions.shape[1], (len(idx),), generator=step_generator(seed, step))
        text = captions[idx, choice].to(device)
        with autocast(device, params):
            image_features, text_features, logit_scale = model(prep(images[idx].to(device)), text)
        loss = loss_fn(image_features, text_features, logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)  # ln(100), as open_clip's trainer does
        state.save(step, model, optimizer, scheduler)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    state.clear()
    return model.eval()


def load_pretrained(model_name: str, pretrained: str) -> torch.nn.Module:
    """Fetch (or read from a local path) the published weights of ``model_name``; a file
    written by :mod:`neulig.shipped_clip` (the world's CLIP) is rebuilt from its rows."""
    if os.path.isfile(pretrained) and shipped_clip.is_shipped(pretrained):
        return shipped_clip.load(model_name, pretrained)
    return create_clip(model_name, pretrained=pretrained)


SCRATCH_TAGS = (None, "", "none", "scratch")


def provide_pretrained(
    params: dict, tasks: list[Task], device: torch.device, state: TrainState
) -> tuple[torch.nn.Module, StateDict, dict]:
    """The shared CLIP: pretrained here on its pool (``pretrained: none``, :func:`pretraining_pool`)
    or loaded from an open_clip tag / weights file. Returns the model (CPU, eval), the tasks'
    zero-shot heads as flat tensors (``<task>/weight``, ``<task>/scale``) and the checkpoint info.
    """
    scratch = params["pretrained"] in SCRATCH_TAGS
    if scratch:
        pool = pretraining_pool(params["model"], params["recipe"], tasks)
        model = pretrain_clip(pool, params["model"], params["recipe"], device, state)
    else:
        model = load_pretrained(params["model"], params["pretrained"])
    model = model.cpu().eval()
    if params.get("logit_scale"):  # the heads' temperature, which the experts train through
        model.logit_scale.data.fill_(math.log(params["logit_scale"]))
    tokenizer = create_tokenizer(params["model"])
    heads = {}
    for task in tasks:
        head = build_head(model, tokenizer, task.classnames, task.templates)
        heads.update({f"{task.name}/{k}": v for k, v in head.to_tensors().items()})
    info = {
        "architecture": params["model"],
        "pretrained": params["pretrained"] or "scratch",
        "task": None,
    }
    if scratch:  # the initialisation's seed, which neulig.shipped_clip rebuilds rows from
        info["seed"] = params["recipe"]["seed"]
    return model, heads, info
