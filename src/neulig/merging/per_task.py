"""Scoring a per-task method (``per_task=True`` in its declaration: TALL masks, EMR-Merging):
every task's test split through that task's own model, built by the method's ``task_model``.

Such a method knows the task of each input, as NeuLig's per-task granularity does; a single
merged checkpoint cannot hold it, so its merge job scores it here instead of the evaluate step.
"""

from __future__ import annotations

import logging

import torch

from neulig.evaluate import accuracy
from neulig.merging.context import MergeContext
from neulig.merging.registry import task_model
from neulig.merging.search import grid_search
from neulig.models import Head, encode_images

log = logging.getLogger(__name__)


@torch.no_grad()
def _scores(method: str, ctx: MergeContext, task: str, head: Head, split: str, hparams: dict):
    """``(scores, labels)`` of ``task``'s ``split`` through its model and ``head``."""
    module = ctx.skeleton(task_model(method, ctx, task, **hparams))
    images, labels = ctx.batch(task, split)
    return head(encode_images(module, images, device=ctx.device)), labels


def _choose(method: str, ctx: MergeContext, task: str, head: Head, hparams: dict, search: dict):
    """``task``'s hyper-parameters and its val accuracies: a searched value changes only this
    task's model, so it is chosen on this task's val split (TALL's lambda_t, as the paper)."""
    if not search:
        return hparams, {}
    ((name, values),) = search.items()

    def score(value) -> float:
        acc = accuracy(*_scores(method, ctx, task, head, "val", {**hparams, name: value}))
        log.info("%s %s %s=%s: val %.2f", method, task, name, value, acc)
        return acc

    best, scores = grid_search(list(values), score)
    return {**hparams, name: best}, scores


def task_scores(
    method: str, ctx: MergeContext, params: dict, heads: dict[str, Head]
) -> tuple[dict, dict]:
    """``({task: (test scores, labels)}, info)``, every task of ``heads`` through its own model
    and head; ``params`` is the config's ``merge.<method>`` slice. ``info`` holds the
    hyper-parameters (a searched one as ``{task: value}``) and, with a search, every task's val
    accuracy per value."""
    hparams, search = params.get("hparams", {}), params.get("search", {})
    scored, chosen, val = {}, {}, {}
    for task, head in heads.items():
        used, accs = _choose(method, ctx, task, head, hparams, search)
        scored[task] = _scores(method, ctx, task, head, "test", used)
        chosen[task] = used
        val |= {f"{task} {value}": acc for value, acc in accs.items()}
    info: dict = {"hparams": dict(hparams)}
    if search:
        (name,) = search
        info["hparams"][name] = {t: h[name] for t, h in chosen.items()}
        info |= {"searched": name, "val_accuracy": val}
    return scored, info
