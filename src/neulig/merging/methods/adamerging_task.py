"""Task-wise AdaMerging: one learned coefficient per task (see :mod:`neulig.merging.adamerging`)."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.adamerging import adamerge
from neulig.merging.coefficients import Coefficients, static
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict

METHOD = MergeMethod(label="AdaMerging (task-wise)", paper_rank=6, counterpart=True)


def merge(ctx: MergeContext, **hparams) -> StateDict:
    """theta_0 + sum_k lambda_k tau_k, lambda_k in [0, 1] minimising the tasks' test entropy.

    The original runs 500 Adam steps at lr 1e-3; the defaults here are a CPU-sized budget
    (Adam moves lambda by up to ~lr a step, so 100 steps at 1e-2 can still cross [0, 1];
    about 10-15 s for 5 tasks on the tiny tower, one core). ``pool`` unlabelled test images
    per task are drawn once; each step takes a random ``batch_size`` of them per task.
    ``ctx.diagnostics["lambdas"]`` is ``{task: lambda}``.
    """
    return adamerge(ctx, False, **hparams)


def coefficients(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """Counterpart: c_t = lambda_t, c_0 = 1 - sum_t lambda_t."""
    lambdas = info["coefficients"]["lambdas"]
    return static([float(lambdas[t]) for t in tasks])
