"""Layer-wise AdaMerging: one coefficient per task and parameter tensor
(see :mod:`neulig.merging.adamerging`)."""

from __future__ import annotations

from neulig.merging.adamerging import adamerge
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict

LABEL = "AdaMerging (layer-wise)"


def merge(ctx: MergeContext, **hparams) -> StateDict:
    """theta_0^l + sum_k lambda_k^l tau_k^l for every parameter tensor l, lambda in [0, 1].

    Hyper-parameters as in :mod:`neulig.merging.methods.adamerging_task`.
    ``ctx.diagnostics["lambdas"]`` is ``{task: {parameter name: lambda}}``.
    """
    return adamerge(ctx, True, **hparams)
