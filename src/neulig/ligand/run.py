"""One NeuLig job: train the router over a combination of experts from their cached
features, then score its ensemble and every merge granularity on the test split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from neulig.dynamic_merge import ExpertStack
from neulig.evaluate import accuracy
from neulig.ligand.granularities import merged_features, static_betas
from neulig.ligand.router import (
    TaskFeatures,
    ensemble_accuracy,
    offset_keys,
    parameter_offsets,
    train_router,
)
from neulig.models import create_vision_tower
from neulig.records import GRANULARITIES, NEULIG_ENSEMBLE, Record, neulig_method

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


@dataclass
class RouteResult:
    router: dict[str, torch.Tensor]  # router weights, test betas per task, offsets
    info: dict  # router selection history
    records: list[Record]
    betas: dict  # diagnostics: mean beta per task of the test inputs


def stack_features(cached: list[dict], task: str, split: str) -> TaskFeatures:
    """The T experts' cached features of one split as ``[N, T, d]``."""
    z = torch.stack([c[f"{task}/{split}"] for c in cached], dim=1)
    return TaskFeatures(z, cached[0][f"{task}/{split}/labels"])


def eval_order(n: int, params: dict) -> torch.Tensor | None:
    """The per-batch granularities' batching order: a seeded permutation with
    ``eval_shuffle`` (the original's shuffled test loaders), else the stored order."""
    if not params["eval_shuffle"]:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(params["seed"]))


def _merge_records(stack, task, head, coefficients, params: dict, common: dict) -> list[Record]:
    """One task's test accuracy under every merge granularity."""
    images, labels = task.splits["test"].tensors()
    order = eval_order(len(labels), params)
    records = []
    for granularity in GRANULARITIES:
        z = merged_features(
            stack, granularity, images, *coefficients, params["eval_batch_size"], order
        )
        acc = accuracy(head(z), labels)
        records.append(Record(method=neulig_method(granularity), level="merge", task=task.name,
                              accuracy=acc, n=len(labels), **common))  # fmt: skip
    log.info("%s: every merge granularity scored", task.name)
    return records


def temperatures(params: dict) -> list[float]:
    """The router temperatures to try: ``temperature`` is one value or a list."""
    value = params["temperature"]
    return list(value) if isinstance(value, list | tuple) else [value]


@torch.no_grad()
def val_merge_accuracy(router, stack, tasks: dict, val: dict[str, TaskFeatures], heads) -> float:
    """Task-average val accuracy of the per-sample merge, the model NeuLig deploys."""
    accs = []
    for name, task in tasks.items():
        images, labels = task.splits["val"].tensors()
        accs.append(
            accuracy(
                heads[name](stack.forward_per_sample(router(val[name].features), images)), labels
            )
        )
    return sum(accs) / len(accs)


def fit_router(split: dict, heads: dict, offsets, params: dict, device, stack, tasks: dict):
    """Train the router; with several temperatures, one per value, keeping the one whose
    per-sample merge is most accurate on val (the first on ties). A low temperature makes beta
    nearly one-hot, so merging experts from different basins loses little, but it can also
    leave a task on the wrong expert; val decides per combination."""
    values = temperatures(params)
    fits = [
        train_router(
            split["train"], split["val"], heads, offsets, {**params, "temperature": t}, device
        )
        for t in values
    ]
    if len(fits) == 1:
        return fits[0]
    scores = [val_merge_accuracy(router, stack, tasks, split["val"], heads) for router, _ in fits]
    best = scores.index(max(scores))
    log.info("temperature %s kept (val per-sample merge %s)", values[best], scores)
    router, info = fits[best]
    tried = {str(t): round(a, 4) for t, a in zip(values, scores, strict=True)}
    return router, {**info, "temperature": values[best], "val_merge_accuracy": tried}


def run_neulig(
    combo: str,
    states: list[StateDict],
    architecture: str,
    cached: list[dict],
    tasks: dict,
    heads: dict,
    params: dict,
    device: torch.device,
) -> RouteResult:
    """``states``/``cached``: the experts' checkpoints and feature caches, in ``tasks`` order
    (``tasks`` maps task names to packed tasks with a loaded test split, and val too when
    several temperatures are tried)."""
    names = list(tasks)
    split = {s: {t: stack_features(cached, t, s) for t in names} for s in ("train", "val", "test")}
    tower = create_vision_tower(architecture)
    offsets = parameter_offsets(states, offset_keys(tower, params["offsets"]))
    stack = ExpertStack(tower, states, device)
    router, info = fit_router(split, heads, offsets, params, device, stack, tasks)
    with torch.no_grad():
        test_betas = {t: router(d.features) for t, d in split["test"].items()}
        per_task, global_beta = static_betas(
            {t: router(d.features) for t, d in split["val"].items()}
        )
    common = {"model": f"neulig_{combo}", "kind": "neulig", "combo": combo, "n_models": len(names),
              "variant": params["loss"]}  # fmt: skip
    records = [
        Record(method=NEULIG_ENSEMBLE, level="ensemble", task=t, accuracy=acc,
               n=len(split["test"][t].labels), **common)
        for t, acc in ensemble_accuracy(router, split["test"], heads).items()
    ]  # fmt: skip
    for name, task in tasks.items():
        coefficients = (test_betas[name], per_task[name], global_beta)
        records += _merge_records(stack, task, heads[name], coefficients, params, common)
    weights = {**router.state_dict(), "offsets": offsets}
    weights.update({f"test_beta/{t}": b for t, b in test_betas.items()})
    betas = {
        "combo": combo,
        "experts": names,
        "temperature": router.temperature,
        "mean_beta": {
            t: [round(x, 4) for x in b.mean(dim=0).tolist()] for t, b in test_betas.items()
        },
    }
    return RouteResult(weights, info, records, betas)
