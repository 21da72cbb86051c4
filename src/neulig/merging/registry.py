"""The merge registry: each method's module, imported from its :mod:`neulig.catalogue` entry.

Built-in methods are the modules of :mod:`neulig.merging.methods`, a researcher's own are the
config's ``merge.plugins``; each module's ``merge(ctx, **hparams)`` runs the method, or, for a
per-task method, its ``task_model(ctx, task, **hparams)`` builds one task's model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType

import torch

from neulig.catalogue import merge_method
from neulig.errors import ConfigError
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict


@cache
def method_module(method: str) -> ModuleType:
    """The module of a catalogued method (``merge``; ``coefficients`` and ``forward_per_input``
    where its declaration says so)."""
    return importlib.import_module(merge_method(method).module)


def merge_function(method: str) -> Callable[..., StateDict]:
    if merge_method(method).per_task:  # no single merged model to return
        raise ConfigError(f"{method} gives one model per task: call task_model(method, ctx, task)")
    return method_module(method).merge


@torch.no_grad()
def task_model(method: str, ctx: MergeContext, task: str, **hparams) -> StateDict:
    """One task's model of a ``per_task`` method (float32 on the CPU, as :func:`merge`)."""
    state = method_module(method).task_model(ctx, task, **hparams)
    return {k: v.detach().float().cpu() for k, v in state.items()}


@torch.no_grad()
def merge(method: str, ctx: MergeContext, **hparams) -> StateDict:
    """Run one catalogued method; every tensor of the result is float32 on the CPU.

    Learned coefficients land in ``ctx.diagnostics`` (cleared here, so they are this call's).
    Methods that learn by gradient descent re-enable gradients inside.
    """
    merge_fn = merge_function(method)
    ctx.diagnostics.clear()
    merged = merge_fn(ctx, **hparams)
    return {k: v.detach().float().cpu() for k, v in merged.items()}
