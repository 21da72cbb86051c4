"""Scoring a merge method at both levels: its prediction-level counterpart on the cached
features, and, for a merge that gives every input its own network (``per_input``, WeMoE) or
every task its own model (``per_task``, TALL, EMR), the merge itself.

A static merge is scored like any single model (the evaluate step); these are the cases a
merged checkpoint alone cannot score.
"""

from __future__ import annotations

import torch

from neulig.evaluate import accuracy
from neulig.merging.context import MergeContext
from neulig.merging.levels import counterpart_scores
from neulig.merging.per_task import task_scores
from neulig.merging.registry import method_module
from neulig.models import Head
from neulig.records import Record, model_name


def _record(method: str, level: str, task: str, scores: torch.Tensor, labels) -> Record:
    acc = accuracy(scores, labels)
    return Record(model_name("merge", method), method, "merge", level, task, acc, len(labels))


def counterpart_records(
    method: str,
    info: dict,
    pretrained: dict[str, torch.Tensor],
    experts: list[dict[str, torch.Tensor]],
    heads: dict[str, Head],
    routing: dict[str, torch.Tensor] | None = None,
) -> list[Record]:
    """Test accuracy per task of ``method``'s counterpart (:mod:`neulig.merging.levels`), from
    the pretrained model's and the experts' feature caches (experts in ``heads`` order)."""
    tasks = list(heads)
    rows = []
    for task, head in heads.items():
        f0 = pretrained[f"{task}/test"]
        fs = torch.stack([cache[f"{task}/test"] for cache in experts])
        r = None if routing is None else routing[task]
        scores = counterpart_scores(method, info, f0, fs, tasks, head, r)
        rows.append(_record(method, "ensemble", task, scores, pretrained[f"{task}/test/labels"]))
    return rows


@torch.no_grad()
def per_input_merge_records(
    method: str, ctx: MergeContext, state: dict[str, torch.Tensor], heads: dict[str, Head]
) -> tuple[list[Record], dict[str, torch.Tensor]]:
    """A per-input merge, every test input through its own merged network: the records and
    each task's routing weights (what its counterpart needs)."""
    forward = method_module(method).forward_per_input
    rows, routing = [], {}
    for task, head in heads.items():
        images, labels = ctx.batch(task, "test")
        features, routing[task] = forward(ctx, state, images)
        rows.append(_record(method, "merge", task, head(features), labels))
    return rows, routing


def per_task_records(
    method: str, ctx: MergeContext, params: dict, heads: dict[str, Head]
) -> tuple[list[Record], dict]:
    """A per-task method, each task's test split through that task's own model (merge level
    only: no prediction-level twin); the records and the hyper-parameters each task used."""
    scored, info = task_scores(method, ctx, params, heads)
    rows = [_record(method, "merge", task, *scored[task]) for task in scored]
    return rows, info
