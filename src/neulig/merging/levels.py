"""Prediction-level counterparts of the merge methods: the merge's coefficients on features.

A merge theta = c_0 theta_0 + sum_t c_t theta_t has the counterpart
scores_t(x) = head_t(c_0 f_0(x) + sum_t' c_t' f_t'(x)), with f_0 the pretrained tower's and
f_t expert t's cached features (before the head), i.e. the first-order expansion of the merge
around the experts. Coefficients come from the merged checkpoint's sidecar ``info`` (its
``hparams`` and, for learned ones, ``coefficients`` = the merge's ``ctx.diagnostics``):

- ``average``: c_0 = 0, c_t = 1/T (the feature-average ensemble).
- ``task_arithmetic``: c_0 = 1 - lambda T, c_t = lambda (``hparams["scaling"]``).
- ``adamerging_task``: c_t = lambda_t, c_0 = 1 - sum_t lambda_t.
- ``adamerging_layer``: the same with lambda_t = the plain mean of task t's layer lambdas
  (every parameter tensor counts once, whatever its size).
- ``wemoe``: per input, c_t(x) = rbar_t(x), the router outputs averaged over blocks, and
  c_0(x) = 1 - sum_t rbar_t(x). Needs the images: pass ``routing`` from
  :func:`neulig.merging.wemoe.forward_per_sample`.
- ``ties``, ``regmean``, ``fisher``: none (merge-only in the paper): :data:`COUNTERPARTS`
  maps them to None.
NeuLig's own ensemble (sum_t beta_t f_t) lives in :mod:`neulig.ligand`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from neulig.models import Head

# (c_0, c): c_0 a scalar or [N], c [T] or [N, T], in the order of the caller's ``tasks``.
Coefficients = tuple[torch.Tensor, torch.Tensor]


def _hparam(method: str, info: dict, name: str):
    """An hparam from the sidecar, else the merge function's default (not written there)."""
    from neulig.merging.registry import MERGE_METHODS

    default = inspect.signature(MERGE_METHODS[method]).parameters[name].default
    return info.get("hparams", {}).get(name, default)


def _static(c: list[float]) -> Coefficients:
    c = torch.tensor(c, dtype=torch.float32)
    return 1.0 - c.sum(), c


def average(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """c_0 = 0, c_t = 1/T."""
    return torch.tensor(0.0), torch.full((len(tasks),), 1.0 / len(tasks))


def task_arithmetic(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """c_0 = 1 - lambda T, c_t = lambda."""
    return _static([float(_hparam("task_arithmetic", info, "scaling"))] * len(tasks))


def dare_task_arithmetic(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """As task arithmetic with DARE's own lambda: drop-and-rescale keeps each task vector's
    expectation, so the twin is exact in expectation over the drop masks."""
    return _static([float(_hparam("dare_task_arithmetic", info, "scaling"))] * len(tasks))


def adamerging_task(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """c_t = lambda_t, c_0 = 1 - sum_t lambda_t."""
    lambdas = info["coefficients"]["lambdas"]
    return _static([float(lambdas[t]) for t in tasks])


def adamerging_layer(info: dict, tasks: list[str], routing=None) -> Coefficients:
    """c_t = mean_l lambda_t^l (plain mean over parameter tensors), c_0 = 1 - sum_t c_t."""
    lambdas = info["coefficients"]["lambdas"]
    return _static([sum(lambdas[t].values()) / len(lambdas[t]) for t in tasks])


def wemoe(info: dict, tasks: list[str], routing: torch.Tensor | None = None) -> Coefficients:
    """c_t(x) = mean over blocks of r_t(x), c_0(x) = 1 - sum_t c_t(x); ``routing`` is
    ``[N, blocks, K]`` in the merge's expert order (``info["coefficients"]["experts"]``)."""
    if routing is None:
        raise ValueError(
            "the WeMoE counterpart needs per-input routing weights: "
            "neulig.merging.wemoe.forward_per_sample(ctx, state, images)[1]"
        )
    order = info["coefficients"]["experts"]
    c = routing.mean(dim=1)[:, [order.index(t) for t in tasks]]
    return 1.0 - c.sum(dim=1), c


COUNTERPARTS: dict[str, Callable[..., Coefficients] | None] = {
    "average": average,
    "task_arithmetic": task_arithmetic,
    "adamerging_task": adamerging_task,
    "adamerging_layer": adamerging_layer,
    "wemoe": wemoe,
    "dare_task_arithmetic": dare_task_arithmetic,
    "ties": None,
    "regmean": None,
    "fisher": None,
    **dict.fromkeys(["dare_ties", "consensus_ta", "tsv_m", "iso_c", "iso_cts", "pcb", "wudi"]),
}
NEEDS_IMAGES = frozenset({"wemoe"})


def combine(
    pretrained: torch.Tensor, experts: torch.Tensor, c0: torch.Tensor, c: torch.Tensor
) -> torch.Tensor:
    """c_0 f_0 + sum_t c_t f_t for ``pretrained`` ``[N, d]`` and ``experts`` ``[T, N, d]``;
    per-input coefficients (``c0`` ``[N]``, ``c`` ``[N, T]``) or shared ones (scalar, ``[T]``)."""
    c0 = torch.as_tensor(c0, dtype=pretrained.dtype)
    c = c.to(pretrained.dtype)
    c = c.T if c.dim() == 2 else c.unsqueeze(1)  # [T, N] or [T, 1]
    mixed = (c.unsqueeze(-1) * experts).sum(dim=0)
    return (c0.unsqueeze(-1) if c0.dim() else c0) * pretrained + mixed


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
    for a merge-only method. ``routing``: WeMoE only (see :func:`wemoe`)."""
    rule = COUNTERPARTS[method]
    if rule is None:
        return None
    c0, c = rule(info, tasks, routing)
    return head(combine(pretrained, experts, c0, c))
