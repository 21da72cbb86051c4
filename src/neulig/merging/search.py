"""Hyper-parameter selection of a merge method on the val split (labels of held-out data)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch

from neulig.evaluate import accuracy
from neulig.merging.context import MergeContext
from neulig.merging.registry import merge
from neulig.merging.state_dict import StateDict
from neulig.models import encode_images

log = logging.getLogger(__name__)


def grid_search(values: Sequence, score: Callable[[object], float]) -> tuple[object, dict]:
    """The value with the highest score; on a tie the one listed first in the grid wins, so the
    choice does not depend on floating-point noise between equal accuracies' order."""
    scores = {value: score(value) for value in values}
    best = max(values, key=lambda v: (scores[v], -values.index(v)))
    return best, scores


@torch.no_grad()
def val_accuracy(ctx: MergeContext, state: StateDict) -> float:
    """Mean over tasks of the val accuracy of the vision tower holding ``state``."""
    module = ctx.skeleton(state)
    accs = []
    for task, head in ctx.heads.items():
        images, labels = ctx.batch(task, "val")
        accs.append(accuracy(head(encode_images(module, images, device=ctx.device)), labels))
    return sum(accs) / len(accs)


def merge_with_search(
    method: str, ctx: MergeContext, hparams: dict, search: dict[str, list]
) -> tuple[StateDict, dict, dict]:
    """Merge with ``hparams``; with a ``search`` grid (one name), pick its value on val first.

    Returns the merged state, the hyper-parameters used, and the selection diagnostics.
    """
    hparams = dict(hparams)
    if not search:
        return merge(method, ctx, **hparams), hparams, {}
    ((name, values),) = search.items()

    def score(value) -> float:
        acc = val_accuracy(ctx, merge(method, ctx, **hparams, **{name: value}))
        log.info("%s %s=%s: val %.2f", method, name, value, acc)
        return acc

    hparams[name], scores = grid_search(list(values), score)
    choice = {"searched": name, "val_accuracy": {str(k): v for k, v in scores.items()}}
    return merge(method, ctx, **hparams), hparams, choice
