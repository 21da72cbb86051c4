"""The linear form every merge with a prediction-level counterpart shares.

A merge theta = c_0 theta_0 + sum_t c_t theta_t has the counterpart
scores_t(x) = head_t(c_0 f_0(x) + sum_t' c_t' f_t'(x)), with f_0 the pretrained tower's and
f_t expert t's cached features (before the head), i.e. the first-order expansion of the merge
around the experts. A method module's ``coefficients(info, tasks, routing)`` reads its (c_0, c)
from the merged checkpoint's sidecar ``info``: its ``hparams`` and, for learned ones,
``coefficients`` (the merge's ``ctx.diagnostics``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

# (c_0, c): c_0 a scalar or [N], c [T] or [N, T], in the order of the caller's ``tasks``.
Coefficients = tuple[torch.Tensor, torch.Tensor]


def hparam(merge: Callable, info: dict, name: str):
    """An hparam from the sidecar, else ``merge``'s default (defaults are not written there)."""
    default = inspect.signature(merge).parameters[name].default
    return info.get("hparams", {}).get(name, default)


def static(c: list[float]) -> Coefficients:
    """c_t as given, c_0 = 1 - sum_t c_t (a merge around the pretrained model)."""
    c = torch.tensor(c, dtype=torch.float32)
    return 1.0 - c.sum(), c


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
