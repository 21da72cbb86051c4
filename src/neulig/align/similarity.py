"""Unit similarities between two vision towers: activations (streamed) and weights.

Both are Pearson correlations between model A's units (rows) and model B's units (columns).
Activation statistics are accumulated batch by batch (sums, squares, cross products), so memory
does not grow with the calibration set.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from neulig.align.spec import Perms, PermSpec, StateDict, apply_permutations

log = logging.getLogger(__name__)

Sink = Callable[[str, torch.Tensor], None]

_EPS = 1e-7


class PairStats:
    """Streaming cross-correlation of two feature streams with the same rows (samples)."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Add samples ``a`` [n, d_a] and ``b`` [n, d_b] (row i of both is the same sample)."""
        if self.n == 0:
            # E[xy] - E[x]E[y] cancels badly in float32 when means dwarf the spread (the
            # residual stream has such channels); shifting by a rough mean avoids that
            self.shift_a, self.shift_b = a.mean(0), b.mean(0)
            self.sum_a = torch.zeros_like(self.shift_a, dtype=torch.float64)
            self.sum_b = torch.zeros_like(self.shift_b, dtype=torch.float64)
            self.sq_a, self.sq_b = torch.zeros_like(self.sum_a), torch.zeros_like(self.sum_b)
            self.cross = a.new_zeros(a.shape[1], b.shape[1])
        a, b = a - self.shift_a, b - self.shift_b
        self.sum_a += a.sum(0)
        self.sum_b += b.sum(0)
        self.sq_a += a.square().sum(0)
        self.sq_b += b.square().sum(0)
        self.cross.addmm_(a.T, b)
        self.n += a.shape[0]

    def correlation(self) -> torch.Tensor:
        """Pearson correlation [d_a, d_b], the denominator clamped at 1e-7."""
        mean_a, mean_b = self.sum_a / self.n, self.sum_b / self.n
        std_a = (self.sq_a / self.n - mean_a.square()).clamp_min(0).sqrt()
        std_b = (self.sq_b / self.n - mean_b.square()).clamp_min(0).sqrt()
        cov = self.cross.double() / self.n - torch.outer(mean_a, mean_b)
        return (cov / torch.outer(std_a, std_b).clamp_min(_EPS)).float()


def _batch_first(x: torch.Tensor, batch_first: bool) -> torch.Tensor:
    return x if batch_first else x.transpose(0, 1)


def _attention_hook(
    sink: Sink, index: int, attn: nn.MultiheadAttention, args: tuple, kwargs: dict
) -> None:
    """Emit block ``index``'s keys and per-head attention outputs (before ``out_proj``).

    ``nn.MultiheadAttention`` applies ``out_proj`` functionally, so no hook can see its input:
    attention is recomputed here from the module's own input.
    """
    if kwargs.get("attn_mask") is not None or len(args) > 3:
        raise ValueError("activation statistics support unmasked self-attention only")
    x = _batch_first(args[0], attn.batch_first)
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    sink(f"qk.{index}", k)
    batch, tokens, width = x.shape
    heads = [t.reshape(batch, tokens, attn.num_heads, -1).transpose(1, 2) for t in (q, k, v)]
    out = F.scaled_dot_product_attention(*heads)
    sink(f"v.{index}", out.transpose(1, 2).reshape(batch, tokens, width))


def _register(visual: nn.Module, sink: Sink) -> list[torch.utils.hooks.RemovableHandle]:
    """Hooks that feed every matching site of ``visual`` to ``sink`` as batch-first tensors."""
    handles = []
    for i, block in enumerate(visual.transformer.resblocks):
        first = block.attn.batch_first
        handles += [
            block.register_forward_hook(
                lambda _m, _a, out, i=i, bf=first: sink(f"res.{i}", _batch_first(out, bf))
            ),
            block.attn.register_forward_pre_hook(
                partial(_attention_hook, sink, i), with_kwargs=True
            ),
            block.mlp.c_proj.register_forward_pre_hook(
                lambda _m, args, i=i, bf=first: sink(f"mlp.{i}", _batch_first(args[0], bf))
            ),
        ]
    return handles


class _Collector:
    """Stores A's features of one batch, then pairs them with B's as B's hooks fire."""

    def __init__(self) -> None:
        self.stored: dict[str, torch.Tensor] = {}
        self.stats: dict[str, PairStats] = {}
        self.pairing = False

    def __call__(self, site: str, x: torch.Tensor) -> None:
        x = x.detach().float().reshape(-1, x.shape[-1])
        if self.pairing:
            self.stats.setdefault(site, PairStats()).update(self.stored.pop(site), x)
        else:
            self.stored[site] = x


@contextlib.contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


@torch.no_grad()
def activation_similarity(
    reference: nn.Module, other: nn.Module, calibration: torch.Tensor, batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """Activation cross-correlation per perm (rows: ``reference`` units, cols: ``other``).

    ``res`` averages the correlations of the residual stream at every block output; ``qk.{l}``
    uses the keys, ``v.{l}`` the per-head attention outputs, ``mlp.{l}`` the input of
    ``c_proj`` (after the activation). Every token of every image is a sample.

    Args:
        reference: model A.
        other: model B, same architecture.
        calibration: preprocessed images [N, 3, S, S].
        batch_size: images per forward pass; peak memory grows with it.
    """
    device = next(reference.parameters()).device
    collector = _Collector()
    handles = _register(reference, collector) + _register(other, collector)
    try:
        with _eval_mode(reference, other):
            for start in range(0, len(calibration), batch_size):
                batch = calibration[start : start + batch_size].to(device)
                collector.pairing = False
                reference(batch)
                collector.pairing = True
                other(batch)
    finally:
        for handle in handles:
            handle.remove()
    corr = {site: stats.correlation() for site, stats in collector.stats.items()}
    residual = [corr.pop(site) for site in list(corr) if site.startswith("res.")]
    log.info("activation statistics over %d images", len(calibration))
    return {"res": torch.stack(residual).mean(0), **corr}


def unit_features(state: StateDict, spec: PermSpec, name: str) -> torch.Tensor:
    """Each unit of perm ``name`` as one row: its slices of every tensor in the perm."""
    perm = spec.perms[name]
    parts = [
        state[s.key].narrow(s.axis, s.start, perm.size).movedim(s.axis, 0).reshape(perm.size, -1)
        for s in perm.slots
    ]
    return torch.cat(parts, dim=1).float()


def _standardise(rows: torch.Tensor) -> torch.Tensor:
    rows = rows - rows.mean(dim=1, keepdim=True)
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(_EPS)


class WeightSimilarity:
    """Pearson correlation of unit weight vectors, B mapped into A's coordinates.

    Args:
        spec: the perms.
        reference: model A's state dict.
        other: model B's state dict (unpermuted).
    """

    def __init__(self, spec: PermSpec, reference: StateDict, other: StateDict) -> None:
        self.spec, self.reference, self.other = spec, reference, other
        self._units_a: dict[str, torch.Tensor] = {}

    def _units(self, name: str, perms: Perms) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in self._units_a:
            self._units_a[name] = _standardise(unit_features(self.reference, self.spec, name))
        touched = {k: self.other[k] for k in self.spec.keys(name)}
        units_b = unit_features(apply_permutations(touched, perms, self.spec), self.spec, name)
        return self._units_a[name], _standardise(units_b)

    def matrix(self, name: str, perms: Perms) -> torch.Tensor:
        """S_w [d_p, d_p] for perm ``name`` with the other perms at ``perms``."""
        others = {p: perm for p, perm in perms.items() if p != name}
        units_a, units_b = self._units(name, others)
        return units_a @ units_b.T

    def matched(self, name: str, perms: Perms) -> torch.Tensor:
        """The similarity of each A unit to the B unit ``perms[name]`` pairs it with [d_p]."""
        units_a, units_b = self._units(name, perms)
        return (units_a * units_b).sum(dim=1)
