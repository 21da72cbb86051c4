"""The merge registry: method names are the modules of :mod:`neulig.merging.methods`.

:func:`neulig.config.merge_method_names` lists them without importing torch;
:data:`MERGE_METHODS` maps each name to its ``merge(ctx, **hparams)`` function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch

from neulig.config import merge_method_labels
from neulig.config import merge_method_names as method_names
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict


def _module(name: str):
    return importlib.import_module(f"neulig.merging.methods.{name}")


MERGE_METHODS: dict[str, Callable[..., StateDict]] = {n: _module(n).merge for n in method_names()}
MERGE_LABELS: dict[str, str] = merge_method_labels()


@torch.no_grad()
def merge(method: str, ctx: MergeContext, **hparams) -> StateDict:
    """Run one registered method; every tensor of the result is float32 on the CPU.

    Learned coefficients land in ``ctx.diagnostics`` (cleared here, so they are this call's).
    Methods that learn by gradient descent re-enable gradients inside.
    """
    if method not in MERGE_METHODS:
        raise KeyError(f"unknown merge method '{method}'; known: {sorted(MERGE_METHODS)}")
    ctx.diagnostics.clear()
    merged = MERGE_METHODS[method](ctx, **hparams)
    return {k: v.detach().float().cpu() for k, v in merged.items()}
