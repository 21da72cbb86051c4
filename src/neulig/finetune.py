"""Fine-tune one expert: the vision tower learns, the zero-shot text head stays frozen."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from neulig import training
from neulig.evaluate import accuracy
from neulig.models import Head, Preprocess, encode_images
from neulig.training import TrainState

log = logging.getLogger(__name__)


def finetune_expert(
    visual: nn.Module,
    head: Head,
    images: torch.Tensor,
    labels: torch.Tensor,
    params: dict,
    device: torch.device,
    state: TrainState | None = None,
) -> nn.Module:
    """AdamW with warm-up + cosine on cross-entropy through the frozen head.

    Args:
        visual: the pretrained vision tower (trained in place).
        head: the task's frozen zero-shot head.
        images: uint8 ``[N, H, W, 3]`` train images; labels: ``[N]``.
        params: ``lr``, ``weight_decay``, ``batch_size``, ``steps``, ``warmup_steps``, ``seed``,
            ``grad_clip`` (max gradient norm, 0 = off), ``augment`` (``none`` or
            ``random_resized_crop``: open_clip's train preprocessing, as the paper's experts)
            and optionally ``label_smoothing`` (0 when absent, as the paper's experts).
        state: where to checkpoint the training state for in-job resume (optional).
    """
    training.seed_everything(params["seed"])
    state = state or TrainState(None, 0)
    visual = visual.to(device).train()
    weight = head.weight.to(device)
    prep = Preprocess.for_tower(visual)
    optimizer = torch.optim.AdamW(
        visual.parameters(), lr=params["lr"], weight_decay=params["weight_decay"]
    )
    scheduler = training.warmup_cosine(optimizer, params["warmup_steps"], params["steps"])
    start = state.resume(visual, optimizer, scheduler)
    # Absent rather than defaulted in the schema: existing runs' parameters stay as they were.
    smoothing = params.get("label_smoothing", 0.0)
    batches = training.batch_indices(
        len(images), params["batch_size"], params["steps"], params["seed"], start
    )
    bar = tqdm(batches, total=params["steps"], initial=start, desc="finetune", mininterval=2)
    for step, idx in enumerate(bar, start=start + 1):
        batch = images[idx].to(device)
        if params["augment"] == "random_resized_crop":
            inputs = prep.random_resized_crop(batch, training.step_generator(params["seed"], step))
        else:
            inputs = prep(batch)
        with training.autocast(device, params):
            features = visual(inputs)
        logits = head.scale * F.normalize(features.float(), dim=-1) @ weight.T
        loss = F.cross_entropy(logits, labels[idx].to(device), label_smoothing=smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if params["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(visual.parameters(), params["grad_clip"])
        optimizer.step()
        scheduler.step()
        state.save(step, visual, optimizer, scheduler)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    state.clear()
    return visual.eval()


def train_expert(
    task, head: Head, visual: nn.Module, params: dict, device: torch.device, state: TrainState
) -> tuple[nn.Module, float]:
    """Fine-tune ``visual`` on ``task``'s train split; returns it (CPU) and its val accuracy."""
    images, labels = task.splits["train"].tensors()
    visual = finetune_expert(visual, head, images, labels, params, device, state)
    val_x, val_y = task.splits["val"].tensors()
    val_acc = accuracy(head(encode_images(visual, val_x, device=device)), val_y)
    log.info("%s: val accuracy %.2f", task.name, val_acc)
    return visual.cpu(), val_acc
