"""State-dict arithmetic, in one place. All functions are pure and gradient-free."""

from __future__ import annotations

import torch

StateDict = dict[str, torch.Tensor]


@torch.no_grad()
def task_vectors(pretrained: StateDict, finetuned: dict[str, StateDict]) -> dict[str, StateDict]:
    """tau_t = theta_t - theta_0 for every expert."""
    return {
        name: {k: sd[k].float() - pretrained[k].float() for k in pretrained}
        for name, sd in finetuned.items()
    }


@torch.no_grad()
def add_scaled(base: StateDict, delta: StateDict, scale: float) -> StateDict:
    return {k: base[k].float() + scale * delta[k] for k in base}


@torch.no_grad()
def weighted_sum(states: list[StateDict], weights: list[float] | torch.Tensor) -> StateDict:
    """sum_t w_t * theta_t over the keys of the first state."""
    return {
        k: sum(w * sd[k].float() for w, sd in zip(weights, states, strict=True)) for k in states[0]
    }


@torch.no_grad()
def mean(states: list[StateDict]) -> StateDict:
    return weighted_sum(states, [1.0 / len(states)] * len(states))


def flatten(state: StateDict, keys: list[str]) -> torch.Tensor:
    """The tensors of ``keys``, concatenated into one vector (in that order)."""
    return torch.cat([state[k].flatten() for k in keys])


def unflatten(vector: torch.Tensor, like: StateDict) -> StateDict:
    """Inverse of :func:`flatten` over ``like``'s keys and shapes."""
    out, offset = {}, 0
    for k, v in like.items():
        out[k] = vector[offset : offset + v.numel()].view_as(v)
        offset += v.numel()
    return out
