"""Applying zips to K models' weights, and running partially zipped models.

Every slot of a zipped perm is contracted with a per-model matrix along its axis: a slot that
writes the units gets ``K * M_k`` (merge), a slot that reads them gets ``U_k`` (unmerge); the K
results are averaged. For a weight with both sides zipped this is sum_k M_k^T W_k U_k, and a
merged bias or norm parameter is the mean of its members. Tensors no zip touches are averaged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from neulig.align.greedy_zip import merge_matrix
from neulig.align.vit_perms import PermSpec, StateDict


def _axis_matrices(
    spec: PermSpec, transforms: dict[str, torch.Tensor], key: str, shape: torch.Size, model: int
) -> dict[int, torch.Tensor]:
    """Model ``model``'s contraction matrix per axis of tensor ``key`` (identity outside the
    zipped slices)."""
    out: dict[int, torch.Tensor] = {}
    for name, zip_p in transforms.items():
        perm = spec.perms[name]
        models = zip_p.shape[0] // perm.size
        chunk = zip_p[model * perm.size : (model + 1) * perm.size]
        merge = merge_matrix(zip_p)[model * perm.size : (model + 1) * perm.size] * models
        for slot in perm.slots:
            if slot.key != key:
                continue
            mat = out.setdefault(slot.axis, torch.eye(shape[slot.axis]))
            span = slice(slot.start, slot.start + perm.size)
            mat[span, span] = chunk if slot.is_consumer else merge
    return out


def apply_zip(
    states: Sequence[StateDict], spec: PermSpec, transforms: dict[str, torch.Tensor]
) -> StateDict:
    """The merged state of ``states`` under ``transforms`` (perm name -> P [K*d, d]).

    Non-float tensors (BN's batch counters) are taken from model 0.
    """
    merged = {}
    for key, first in states[0].items():
        if not first.is_floating_point():
            merged[key] = first
            continue
        total = torch.zeros_like(first)
        for k, state in enumerate(states):
            tensor = state[key]
            for axis, mat in _axis_matrices(spec, transforms, key, tensor.shape, k).items():
                tensor = (tensor.movedim(axis, -1) @ mat.to(tensor)).movedim(-1, axis)
            total += tensor
        merged[key] = total / len(states)
    return merged


class _Split(Exception):  # noqa: N818 (control flow, not an error)
    """Carries the trunk's split-point output out of its forward pass."""

    def __init__(self, out: torch.Tensor) -> None:
        self.out = out


class PartialZip(nn.Module):
    """Models zipped up to a split point, then each model's own remaining layers.

    The merged trunk runs up to the split (its forward is cut there); its output, the merged
    units of the residual perm at the split, is unmerged into each model's space by ``U_k``
    and substituted for that model's own output at the split, so ``forward`` returns one output
    per model (per task). Splitting by hooks reuses each architecture's own forward code; the
    price is that every model recomputes its (discarded) prefix. Without a split point this is
    the plain ensemble of the models.

    Args:
        trunk: a model holding the merged state (only its prefix is used).
        models: the K original models (copied).
        split: ``module -> its split module`` (the layer whose output is replaced), or None.
        unmerge: P [K*d, d] of the residual perm at the split.
        channel_dim: the channel dimension of the split module's output.
    """

    def __init__(self, trunk: nn.Module, models: Sequence[nn.Module], split,
                 unmerge: torch.Tensor | None, channel_dim: int) -> None:  # fmt: skip
        super().__init__()
        self.trunk = trunk
        self.models = nn.ModuleList(copy.deepcopy(m) for m in models)
        self.split, self.channel_dim = split, channel_dim
        if unmerge is not None:
            self.register_buffer("unmerge", unmerge.reshape(len(models), -1, unmerge.shape[1]))

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        def stop(_module, _args, out):
            raise _Split(out)

        handle = self.split(self.trunk).register_forward_hook(stop)
        try:
            self.trunk(x)
        except _Split as split:
            return split.out
        finally:
            handle.remove()
        raise RuntimeError("the split module never ran")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.split is None:
            return [m(x) for m in self.models]
        merged = self._trunk(x).movedim(self.channel_dim, -1)
        outputs = []
        for model, unmerge in zip(self.models, self.unmerge, strict=True):
            own = (merged @ unmerge.T).movedim(-1, self.channel_dim)
            handle = self.split(model).register_forward_hook(lambda *_, own=own: own)
            try:
                outputs.append(model(x))
            finally:
                handle.remove()
        return outputs
