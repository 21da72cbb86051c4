"""Parameter-level merging with input-dependent coefficients: theta(beta) = sum_t beta_t theta_t.

Every granularity runs a real merged network through :func:`torch.func.functional_call` on the
merged state; nothing here averages features. ``per_sample`` gives each input its own merged
weights, batched with :func:`torch.vmap` over chunks of inputs instead of a Python loop.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.func import functional_call, vmap

from neulig.models import Preprocess

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

    @torch.no_grad()
    def forward_per_sample(
        self, betas: torch.Tensor, images: torch.Tensor, chunk: int | None = None
    ) -> torch.Tensor:
        """Features where input i runs through its own merged model theta(betas[i]).

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

    @torch.no_grad()
    def forward_per_batch(
        self, betas: torch.Tensor, images: torch.Tensor, batch_size: int, rule: str
    ) -> torch.Tensor:
        """One merged model per batch of ``batch_size`` inputs, from the batch's first
        sample's coefficients (``first``, the original code) or their mean (``mean``)."""
        out = []
        for i in range(0, len(images), batch_size):
            b = betas[i : i + batch_size]
            beta = b[0] if rule == "first" else b.mean(dim=0)
            out.append(self.forward_static(beta, images[i : i + batch_size], batch_size))
        return torch.cat(out)
