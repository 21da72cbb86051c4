"""The NeuLig paper's Figure 3 ("toy experiment"): one merge method on one pair of experts,
scored at both levels on the pair's two tasks.

The merge is chosen exactly as in the main table (val grid search, or coefficients learned on
unlabelled test batches); its prediction-level twin is the method's counterpart
(:mod:`neulig.merging.levels`), or the uniform feature ensemble for a merge-only method (TIES,
RegMean, Fisher, the per-task TALL and EMR), as the figure needs an ensemble point for every
method.
"""

from __future__ import annotations

import torch

from neulig.catalogue import merge_method
from neulig.evaluate import accuracy
from neulig.merging.coefficients import combine
from neulig.merging.context import MergeContext
from neulig.merging.levels import counterpart_scores
from neulig.merging.per_task import task_scores
from neulig.merging.search import merge_with_search
from neulig.models import Head, encode_images
from neulig.records import Record, combo_name, model_name


def _ensemble_scores(method, info, f0, fs, tasks, head) -> torch.Tensor:
    if not merge_method(method).counterpart:
        uniform = torch.full((len(tasks),), 1.0 / len(tasks))
        return head(combine(f0, fs, torch.tensor(0.0), uniform))
    return counterpart_scores(method, info, f0, fs, tasks, head)


@torch.no_grad()
def _merged_scores(method: str, ctx: MergeContext, params: dict, heads: dict) -> tuple[dict, dict]:
    """``({task: (test scores, labels)}, info)`` of the pair's merge: one merged model, or,
    for a per-task method, each task's own model (:mod:`neulig.merging.per_task`)."""
    if merge_method(method).per_task:
        return task_scores(method, ctx, params, heads)
    state, hparams, choice = merge_with_search(
        method, ctx, params.get("hparams", {}), params.get("search", {})
    )
    info = {"hparams": hparams, "coefficients": ctx.diagnostics, **choice}
    module, scored = ctx.skeleton(state), {}
    for task, head in heads.items():
        images, labels = ctx.batch(task, "test")
        scored[task] = head(encode_images(module, images, device=ctx.device)), labels
    return scored, info


@torch.no_grad()
def pair_records(
    method: str,
    ctx: MergeContext,
    params: dict,
    pretrained: dict[str, torch.Tensor],
    experts: list[dict[str, torch.Tensor]],
    heads: dict[str, Head],
) -> tuple[list[Record], dict]:
    """Records (merge and ensemble level, ``combo`` = the pair) and the merge's hyper-parameters.

    ``pretrained`` and ``experts`` are feature caches (experts in ``heads`` order)."""
    scored, info = _merged_scores(method, ctx, params, heads)
    tasks, combo = list(heads), combo_name(heads)
    common = {"model": model_name("merge", method), "method": method, "kind": "merge"}
    common |= {"combo": combo, "n_models": len(tasks)}
    rows = []
    for task, head in heads.items():
        merged, labels = scored[task]
        f0 = pretrained[f"{task}/test"]
        fs = torch.stack([cache[f"{task}/test"] for cache in experts])
        ensembled = _ensemble_scores(method, info, f0, fs, tasks, head)
        for level, scores in (("merge", merged), ("ensemble", ensembled)):
            rows.append(Record(level=level, task=task, accuracy=accuracy(scores, labels),
                               n=len(labels), **common))  # fmt: skip
    return rows, info
