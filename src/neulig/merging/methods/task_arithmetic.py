"""Task arithmetic (Ilharco et al., 2023): add the scaled sum of the task vectors."""

from __future__ import annotations

from neulig.catalogue import MergeMethod
from neulig.merging.coefficients import Coefficients, hparam, static
from neulig.merging.context import MergeContext
from neulig.merging.state_dict import StateDict, add_scaled

METHOD = MergeMethod(label="Task arithmetic", paper_rank=2, counterpart=True)


def merge(ctx: MergeContext, scaling: float = 0.3) -> StateDict:
    """theta_0 + scaling * sum_t tau_t.

    Example:
        >>> merged = merge(MergeContext(theta0, experts), scaling=0.3)
    """
    taus = list(ctx.task_vectors.values())
    total = {k: sum(t[k] for t in taus) for k in ctx.pretrained}
    return add_scaled(ctx.pretrained, total, scaling)


def coefficients(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """Counterpart: c_0 = 1 - lambda T, c_t = lambda (``hparams["scaling"]``)."""
    return static([float(hparam(merge, info, "scaling"))] * len(tasks))
