"""Training and scoring the miniature's ResNets (from scratch, one task each)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from neulig.mudsc_miniature.tasks import MiniTask, joint_split, logits
from neulig.resnet import ResNet

log = logging.getLogger(__name__)

# a model (or ensemble) as a function from images to 10-class logits
Scorer = Callable[[torch.Tensor], torch.Tensor]


def _shift(images: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to ``pad`` pixels (the only augmentation)."""
    size = images.shape[-1]
    padded = F.pad(images, (pad,) * 4)
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[..., dy : dy + size, dx : dx + size]


def train_model(task: MiniTask, heads: torch.Tensor, params: dict, seed: int) -> ResNet:
    """A ResNet-20 x ``width`` trained from scratch (init from ``seed``) on ``task``'s train
    split with a cosine classifier over the task's own class embeddings."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = ResNet(params["width"], heads.shape[1], in_channels=1, norm="bn")
    data = task.splits["train"]
    own = heads[task.classes]
    local = torch.tensor([task.classes.index(int(c)) for c in data.labels])
    steps = params["epochs"] * -(-len(local) // params["batch_size"])
    opt = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, params["lr"], total_steps=steps)
    model.train()
    for epoch in range(params["epochs"]):
        order = torch.randperm(len(local), generator=gen)
        for start in range(0, len(order), params["batch_size"]):
            idx = order[start : start + params["batch_size"]]
            loss = F.cross_entropy(logits(model(_shift(data.images[idx], gen)), own), local[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        log.info("%s seed %d epoch %d: loss %.3f", task.name, seed, epoch, loss.item())
    return model.eval()


@torch.no_grad()
def model_scorer(model: nn.Module, heads: torch.Tensor) -> Scorer:
    def score(images: torch.Tensor) -> torch.Tensor:
        return logits(model.eval()(images), heads)

    return score


@torch.no_grad()
def ensemble_scorer(models: list[nn.Module], heads: torch.Tensor) -> Scorer:
    """The models' mean 10-class logits (MuDSC/ZipIt's ensemble baseline)."""

    def score(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([logits(m.eval()(images), heads) for m in models]).mean(0)

    return score


@torch.no_grad()
def scores(scorer: Scorer, tasks: list[MiniTask], split: str) -> dict[str, float]:
    """Joint (10-way over both tasks' images) and per-task (5-way) accuracy in %, and their
    per-task average (one forward pass: the per-task scores slice the joint logits)."""
    both = joint_split(tasks, split)
    logit = scorer(both.images)
    out = {"joint": _accuracy(logit, both.labels)}
    start = 0
    for task in tasks:
        labels = task.splits[split].labels
        local = logit[start : start + len(labels), task.classes]
        out[task.name] = _accuracy(local, labels - task.classes[0])
        start += len(labels)
    out["per_task"] = sum(out[t.name] for t in tasks) / len(tasks)
    return out


def _accuracy(logit: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * (logit.argmax(1) == labels).float().mean().item()


@torch.no_grad()
def task_loss(model: nn.Module, heads: torch.Tensor, task: MiniTask, split: str) -> float:
    """Cross-entropy of ``model`` on ``task``'s ``split`` over the task's own classes."""
    data = task.splits[split]
    local = logits(model.eval()(data.images), heads[task.classes])
    return F.cross_entropy(local, data.labels - task.classes[0]).item()
