"""Merge methods, one signature each: ``(pretrained, finetuned, **hparams) -> merged``.

:data:`MERGE_METHODS` maps the config's method names (the ``{method}`` wildcard) to them; a new
method is one function here plus its name in the config schema's enum.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neulig.merging.state_dict_ops import StateDict, add_scaled, mean, task_vectors


@torch.no_grad()
def weight_average(pretrained: StateDict, finetuned: dict[str, StateDict]) -> StateDict:
    """Uniform average of the experts' parameters.

    Example:
        >>> merged = weight_average(theta0, {"a": theta_a, "b": theta_b})  # (a + b) / 2
    """
    return mean(list(finetuned.values()))


@torch.no_grad()
def task_arithmetic(
    pretrained: StateDict, finetuned: dict[str, StateDict], scaling: float = 0.3
) -> StateDict:
    """theta_0 + scaling * sum_t tau_t (Ilharco et al., 2023).

    Example:
        >>> merged = task_arithmetic(theta0, experts, scaling=0.3)
    """
    taus = list(task_vectors(pretrained, finetuned).values())
    total = {k: sum(t[k] for t in taus) for k in pretrained}
    return add_scaled(pretrained, total, scaling)


@torch.no_grad()
def ties_merging(
    pretrained: StateDict,
    finetuned: dict[str, StateDict],
    scaling: float = 1.0,
    density: float = 0.2,
    merge_func: str = "mean",
) -> StateDict:
    """TIES (Yadav et al., 2023): trim each tau to its top-``density`` entries by magnitude
    (over the whole flattened model), elect a sign per entry from the trimmed sum, then take the
    disjoint mean (or sum) of the entries that agree with it.

    Example:
        >>> merged = ties_merging(theta0, experts, scaling=1.0, density=0.2)
    """
    keys = list(pretrained)
    taus = task_vectors(pretrained, finetuned)
    flat = torch.stack([torch.cat([t[k].flatten() for k in keys]) for t in taus.values()])
    k_keep = max(1, int(round(density * flat.shape[1])))
    thresholds = flat.abs().kthvalue(flat.shape[1] - k_keep + 1, dim=1, keepdim=True).values
    trimmed = torch.where(flat.abs() >= thresholds, flat, torch.zeros_like(flat))
    sign = torch.sign(trimmed.sum(dim=0))
    agree = (torch.sign(trimmed) == sign) & (trimmed != 0)
    picked = torch.where(agree, trimmed, torch.zeros_like(trimmed)).sum(dim=0)
    if merge_func == "mean":
        picked = picked / agree.sum(dim=0).clamp(min=1)
    elif merge_func != "sum":
        raise ValueError(f"ties merge_func must be 'mean' or 'sum', not {merge_func!r}")
    merged_tau, offset = {}, 0
    for k in keys:
        n = pretrained[k].numel()
        merged_tau[k] = picked[offset : offset + n].view_as(pretrained[k])
        offset += n
    return add_scaled(pretrained, merged_tau, scaling)


MERGE_METHODS: dict[str, Callable[..., StateDict]] = {
    "average": weight_average,
    "task_arithmetic": task_arithmetic,
    "ties": ties_merging,
}


def merge(
    method: str, pretrained: StateDict, finetuned: dict[str, StateDict], **hparams
) -> StateDict:
    if method not in MERGE_METHODS:
        raise KeyError(f"unknown merge method '{method}'; known: {sorted(MERGE_METHODS)}")
    return MERGE_METHODS[method](pretrained, finetuned, **hparams)
