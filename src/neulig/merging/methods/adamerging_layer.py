"""Layer-wise AdaMerging: one coefficient per task and parameter tensor
(see :mod:`neulig.merging.adamerging`)."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.adamerging import adamerge
from neulig.merging.coefficients import Coefficients, static
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict

METHOD = MergeMethod(label="AdaMerging (layer-wise)", paper_rank=7, counterpart=True)


def merge(ctx: MergeContext, **hparams) -> StateDict:
    """theta_0^l + sum_k lambda_k^l tau_k^l for every parameter tensor l, lambda in [0, 1].

    Hyper-parameters as in :mod:`neulig.merging.methods.adamerging_task`.
    ``ctx.diagnostics["lambdas"]`` is ``{task: {parameter name: lambda}}``.
    """
    return adamerge(ctx, True, **hparams)


def coefficients(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """Counterpart: c_t = mean_l lambda_t^l, the plain mean over parameter tensors (every
    tensor counts once, whatever its size), c_0 = 1 - sum_t c_t."""
    lambdas = info["coefficients"]["lambdas"]
    return static([sum(lambdas[t].values()) / len(lambdas[t]) for t in tasks])
