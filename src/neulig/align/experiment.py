"""The alignment experiment: align one expert onto another, average them, score the merge."""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from neulig.align.matching import AlignResult, align
from neulig.data.packed import Task
from neulig.evaluate import accuracy
from neulig.merging.methods import weight_average
from neulig.models import Head, Preprocess, encode_images

log = logging.getLogger(__name__)


def calibration_batch(tasks: list[Task], visual: nn.Module, count: int, seed: int) -> torch.Tensor:
    """``count`` preprocessed train images, drawn evenly from the tasks with a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    prep = Preprocess.for_tower(visual)
    chunks = []
    for i, task in enumerate(tasks):
        images, _ = task.splits["train"].tensors()
        share = count // len(tasks) + (i < count % len(tasks))
        idx = torch.randperm(len(images), generator=generator)[:share]
        chunks.append(prep(images[idx]))
    return torch.cat(chunks)


def test_accuracy(visual: nn.Module, tasks: list[Task], heads: dict[str, Head], device) -> dict:
    accs = {}
    for task in tasks:
        images, labels = task.splits["test"].tensors()
        accs[task.name] = accuracy(
            heads[task.name](encode_images(visual, images, device=device)), labels
        )
    return accs


def averaged(reference: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``reference`` holding the average of its weights and ``state``."""
    merged = copy.deepcopy(reference)
    merged.load_state_dict(weight_average({}, {"a": reference.state_dict(), "b": state}))
    return merged


def align_and_average(
    method: str,
    reference: nn.Module,
    other: nn.Module,
    calibration: torch.Tensor,
    tasks: list[Task],
    heads: dict[str, Head],
    lam: float,
    seed: int,
    device,
) -> tuple[AlignResult, dict[str, float]]:
    """Align ``other`` onto ``reference`` with ``method``, average, and score every task."""
    result = align(method, reference, other, calibration, lam=lam, seed=seed)
    return result, test_accuracy(averaged(reference, result.state), tasks, heads, device)


def neulig_pair(
    reference: nn.Module,
    aligned: dict[str, torch.Tensor],
    tasks: list[Task],
    heads: dict[str, Head],
    params: dict,
    device,
) -> dict[str, dict[str, float]]:
    """NeuLig over the reference and the aligned expert: router on both experts' features,
    then per-sample merged weights. Returns ``{"merge": {task: acc}, "ensemble": {...}}``."""
    from neulig.dynamic_merge import ExpertStack
    from neulig.ligand import TaskFeatures, ensemble_accuracy, parameter_offsets, train_router

    other = copy.deepcopy(reference)
    other.load_state_dict(aligned)
    states = [reference.state_dict(), aligned]
    features = {}
    for split in ("train", "val", "test"):
        features[split] = {}
        for task in tasks:
            images, labels = task.splits[split].tensors()
            z = torch.stack(
                [encode_images(m, images, device=device) for m in (reference, other)], dim=1
            )
            features[split][task.name] = TaskFeatures(z, labels)
    router, _ = train_router(
        features["train"], features["val"], heads, parameter_offsets(states), params
    )
    stack = ExpertStack(copy.deepcopy(reference), states, device)
    merge = {}
    for task in tasks:
        images, labels = task.splits["test"].tensors()
        betas = router(features["test"][task.name].features).detach()
        merge[task.name] = accuracy(
            heads[task.name](stack.forward_per_sample(betas, images)), labels
        )
    return {"merge": merge, "ensemble": ensemble_accuracy(router, features["test"], heads)}
