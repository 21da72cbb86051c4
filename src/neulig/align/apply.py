"""Applying zips to K models' weights, and running a partially zipped ResNet.

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

from neulig.align.spec import PermSpec, StateDict
from neulig.align.zip import merge_matrix
from neulig.resnet import ResNet


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


class PartialZip(nn.Module):
    """A ResNet zipped up to layer ``stop`` (exclusive), then each model's own remaining layers.

    The merged prefix runs once; its output (merged units of the split's residual segment) is
    unmerged into each model's space by ``U_k`` and fed to that model's suffix, so ``forward``
    returns one output per model (per task). ``stop = 0`` is the plain ensemble of the models.

    Args:
        trunk: a ResNet holding the merged state (only layers before ``stop`` are used).
        models: the K original models (copied).
        stop: number of zipped layers in :attr:`ResNet.layers`.
        unmerge: P [K*d, d] of the residual perm at the split (unused when ``stop = 0``).
    """

    def __init__(
        self, trunk: ResNet, models: Sequence[ResNet], stop: int, unmerge: torch.Tensor | None
    ) -> None:
        super().__init__()
        self.trunk = trunk
        self.models = nn.ModuleList(copy.deepcopy(m) for m in models)
        self.stop = stop
        if unmerge is not None:
            self.register_buffer("unmerge", unmerge.reshape(len(models), -1, unmerge.shape[1]))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.stop == 0:
            return [m(x) for m in self.models]
        h = self.trunk.run(x, 0, self.stop)
        return [
            m.run(torch.einsum("ij,bjhw->bihw", u, h), self.stop)
            for m, u in zip(self.models, self.unmerge, strict=True)
        ]
