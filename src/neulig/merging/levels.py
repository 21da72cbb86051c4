"""Prediction-level counterparts of the merge methods: the merge's coefficients on features.

Each method with ``counterpart=True`` in its declaration (:mod:`neulig.catalogue`) defines its
coefficients beside its merge (:mod:`neulig.merging.coefficients` has the linear form); the
others are merge-only, as in the paper. NeuLig's own ensemble (sum_t beta_t f_t) lives in
:mod:`neulig.ligand`.
"""

from __future__ import annotations

import torch

from neulig.catalogue import merge_method
from neulig.merging.coefficients import combine
from neulig.merging.registry import method_module
from neulig.models import Head


def counterpart_scores(
    method: str,
    info: dict,
    pretrained: torch.Tensor,
    experts: torch.Tensor,
    tasks: list[str],
    head: Head,
    routing: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """``head(c_0 f_0 + sum_t c_t f_t)``, experts' features stacked in ``tasks`` order; None
    for a merge-only method. ``routing``: a per-input merge's routing weights, from its
    ``forward_per_input``."""
    if not merge_method(method).counterpart:
        return None
    c0, c = method_module(method).coefficients(info, tasks, routing)
    return head(combine(pretrained, experts, c0, c))
