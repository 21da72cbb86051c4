"""The merge registry: each method's module, imported from its :mod:`neulig.catalogue` entry.

Built-in methods are the modules of :mod:`neulig.merging.methods`, a researcher's own are the
config's ``merge.plugins``; each module's ``merge(ctx, **hparams)`` runs the method.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType

import torch

from neulig.catalogue import merge_method
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict


@cache
def method_module(method: str) -> ModuleType:
    """The module of a catalogued method (``merge``; ``coefficients`` and ``forward_per_input``
    where its declaration says so)."""
    return importlib.import_module(merge_method(method).module)


def merge_function(method: str) -> Callable[..., StateDict]:
    return method_module(method).merge


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
