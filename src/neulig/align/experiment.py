"""The alignment experiment: align one expert onto another, average them, score the merge."""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from neulig.align.matching import AlignResult, align
from neulig.data.packed import Task
from neulig.dynamic_merge import ExpertStack
from neulig.evaluate import accuracy
from neulig.ligand import router as ligand
from neulig.merging.state_dict import mean
from neulig.models import Head, Preprocess, encode_images
from neulig.records import Record

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
    merged.load_state_dict(mean([reference.state_dict(), state]))
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
            features[split][task.name] = ligand.TaskFeatures(z, labels)
    offsets = ligand.parameter_offsets(states, ligand.offset_keys(reference, params["offsets"]))
    router, _ = ligand.train_router(
        features["train"], features["val"], heads, offsets, params, device
    )
    stack = ExpertStack(copy.deepcopy(reference), states, device)
    merge = {}
    for task in tasks:
        images, labels = task.splits["test"].tensors()
        betas = router(features["test"][task.name].features).detach()
        merge[task.name] = accuracy(
            heads[task.name](stack.forward_per_sample(betas, images)), labels
        )
    return {"merge": merge, "ensemble": ligand.ensemble_accuracy(router, features["test"], heads)}


def run_alignment(
    method: str,
    setting: str,
    pair: tuple[tuple[nn.Module, str], tuple[nn.Module, str]],
    tasks: dict[str, Task],
    heads: dict[str, Head],
    params: dict,
    device,
) -> tuple[AlignResult, list[Record]]:
    """Align the second expert of ``pair`` ((tower, task) each) onto the first and score the
    experts, their aligned average, NeuLig over the aligned pair, and MuDSC's lambda sweep."""
    (reference, ref_task), (other, other_task) = pair
    task_list = list(tasks.values())
    calibration = calibration_batch(
        task_list, reference, params["calibration_images"], params["seed"]
    ).to(device)

    def rows(variant: str, accs: dict, lam: float | None = None) -> list[Record]:
        return [
            Record(
                model=f"align_{setting}_{method}",
                method=method,
                kind="align",
                level="model" if variant == "experts" else "merge",
                task=t,
                accuracy=a,
                n=len(tasks[t].splits["test"].labels),
                setting=setting,
                variant=variant,
                lam=lam,
            )
            for t, a in accs.items()
        ]

    def run(lam: float):
        return align_and_average(
            method, reference, other, calibration, task_list, heads, lam, params["seed"], device
        )

    own = test_accuracy(reference, [tasks[ref_task]], heads, device)
    own.update(test_accuracy(other, [tasks[other_task]], heads, device))
    records = rows("experts", own)
    result, accs = run(params["lam"])
    records += rows("average", accs, params["lam"])
    if params.get("neulig"):
        nl = neulig_pair(reference, result.state, task_list, heads, params["neulig"], device)
        records += rows("neulig_merge", nl["merge"], params["lam"])
        records += rows("neulig_ensemble", nl["ensemble"], params["lam"])
    if method == "mudsc":
        for lam in params.get("lam_grid", []):
            records += rows("lambda_sweep", run(lam)[1], lam)
    return result, records


def align_expert(
    method: str,
    reference: nn.Module,
    other: nn.Module,
    tasks: list[Task],
    params: dict,
    device,
) -> AlignResult:
    """Align ``other`` onto ``reference`` on calibration images drawn from both experts' train
    splits (labels unused); the permuted state computes the same function as ``other``."""
    calibration = calibration_batch(
        tasks, reference, params["calibration_images"], params["seed"]
    ).to(device)
    return align(method, reference, other, calibration, lam=params["lam"], seed=params["seed"])
