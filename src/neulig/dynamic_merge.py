"""Parameter-level merging with input-dependent coefficients: theta(beta) = sum_t beta_t theta_t.

Every granularity runs a real merged network; nothing here averages features. ``static`` and
``per_batch`` run :func:`torch.func.functional_call` on one merged state. ``per_sample`` gives
each input its own merged network: every op of a ViT or ResNet tower is affine in its
parameters, so :mod:`neulig.merging.per_sample` (ResNets: ``per_sample_resnet``) re-runs the
tower layer by layer over the stacked experts, at most the cost of a T-expert ensemble. The
original vmap form, which materialises every input's whole merged state, stays as
``forward_per_sample_vmap``: the tests' reference and the fallback for towers the linear form
does not cover.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn
from torch.func import functional_call, vmap

from neulig.merging.per_sample import PerSampleTower
from neulig.merging.per_sample_towers import per_sample_tower
from neulig.models import Preprocess

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


class ExpertStack:
    """The experts' parameters stacked on a leading expert axis, over one module skeleton."""

    def __init__(self, module: nn.Module, states: list[StateDict], device: str = "cpu"):
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.prep = Preprocess.for_tower(module)
        self.stacked = {
            k: torch.stack([sd[k].float() for sd in states]).to(self.device) for k in states[0]
        }
        self._towers: dict[str, PerSampleTower] = {}
        self._tower_unsupported: str | None = None

    def merged(self, beta: torch.Tensor) -> StateDict:
        """theta(beta) for ``beta`` of shape ``[T]`` (one model) or ``[B, T]`` (one per input)."""
        beta = beta.to(self.device)
        return {
            k: torch.tensordot(beta, v, dims=([beta.dim() - 1], [0]))
            for k, v in self.stacked.items()
        }

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        return self.prep(images.to(self.device))

    @torch.no_grad()
    def forward_static(self, beta: torch.Tensor, images: torch.Tensor, batch_size: int = 256):
        """Features of uint8 ``images`` under one merged model theta(beta)."""
        state = self.merged(beta)
        return torch.cat(
            [
                functional_call(self.module, state, (self._input(images[i : i + batch_size]),))
                .float()
                .cpu()
                for i in range(0, len(images), batch_size)
            ]
        )

    def _per_sample_tower(self, mode: str = "auto") -> PerSampleTower | None:
        """The linear-form tower for ``mode``, built on first use; None if unsupported."""
        if mode not in self._towers and self._tower_unsupported is None:
            try:
                self._towers[mode] = per_sample_tower(self.module, self.stacked, mode)
            except NotImplementedError as err:
                self._tower_unsupported = str(err)
                log.warning("%s; per-sample merging falls back to vmap (slow)", err)
        return self._towers.get(mode)

    @torch.no_grad()
    def forward_per_sample(
        self,
        betas: torch.Tensor,
        images: torch.Tensor,
        chunk: int | None = None,
        mode: str = "auto",
    ) -> torch.Tensor:
        """Features where input i runs through its own merged model theta(betas[i]).

        Exact, layer by layer over the stacked experts (``mode``: see
        :class:`~neulig.merging.per_sample.PerSampleTower`), never a whole merged state per
        input. ``chunk`` inputs run at once; the default keeps their activations (widest:
        ``[chunk, tokens, T * width]``) and, in ``layerwise`` mode, one layer's per-input
        weights near 512 MiB on CPU and 8 GiB on a GPU: bigger chunks make bigger GEMMs.
        """
        tower = self._per_sample_tower(mode)
        if tower is None:
            return self.forward_per_sample_vmap(betas, images, chunk)
        if chunk is None:
            chunk = self._linear_chunk(tower)
        betas = betas.to(self.device)
        return torch.cat(
            [
                tower(betas[i : i + chunk], self._input(images[i : i + chunk])).float().cpu()
                for i in range(0, len(images), chunk)
            ]
        )

    def _linear_chunk(self, tower: PerSampleTower) -> int:
        """Inputs per chunk for the linear form, from the memory one input needs at a time."""
        budget = (8 if self.device.type == "cuda" else 0.5) * 2**30
        return int(max(1, min(1024, budget // tower.per_input_bytes())))

    @torch.no_grad()
    def forward_per_sample_vmap(
        self, betas: torch.Tensor, images: torch.Tensor, chunk: int | None = None
    ) -> torch.Tensor:
        """:meth:`forward_per_sample` by materialising every input's merged weights (vmap).

        Each input in a chunk materialises its own weights, so the default chunk keeps them
        under ~1 GiB on CPU (64 inputs for the tiny tower, 2-3 for ViT-B/32) and ~12 GiB on a
        GPU, where larger chunks more than double throughput (measured on an H100).
        """
        if chunk is None:
            n_params = sum(v[0].numel() for v in self.stacked.values())
            budget = (12 if self.device.type == "cuda" else 1) * 2**30
            chunk = max(1, min(64, budget // (4 * n_params)))

        def one(state, x):
            return functional_call(self.module, state, (x.unsqueeze(0),)).squeeze(0)

        batched = vmap(one)
        out = []
        with warnings.catch_warnings():
            # nn.MultiheadAttention has no vmap batching rule; the fallback is exact, just slower.
            warnings.filterwarnings("ignore", message=".*falling back to slow.*")
            warnings.filterwarnings("ignore", message=".*There is a performance drop.*")
            for i in range(0, len(images), chunk):
                state = self.merged(betas[i : i + chunk])
                out.append(batched(state, self._input(images[i : i + chunk])).float().cpu())
        return torch.cat(out)
