"""Unit similarities between models (ViT towers, ResNets): activations (streamed) and weights.

Both are Pearson correlations between model A's units (rows) and model B's units (columns).
Activation statistics are accumulated batch by batch (sums, squares, cross products), so memory
does not grow with the calibration set.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from neulig.align.perm_specs import register_for
from neulig.align.vit_perms import Perms, PermSpec, StateDict, apply_permutations

log = logging.getLogger(__name__)

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


class _Collector:
    """Stores each model's features of one batch; after the last model, updates the stacked
    [n, K*d] statistics of every site."""

    def __init__(self, models: int) -> None:
        self.models = models
        self.stored: dict[str, list[torch.Tensor]] = {}
        self.stats: dict[str, PairStats] = {}

    def __call__(self, site: str, x: torch.Tensor) -> None:
        seen = self.stored.setdefault(site, [])
        seen.append(x.detach().float().reshape(-1, x.shape[-1]))
        if len(seen) == self.models:
            stacked = torch.cat(self.stored.pop(site), dim=1)
            self.stats.setdefault(site, PairStats()).update(stacked, stacked)


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
def joint_activation_similarity(
    models: Sequence[nn.Module], calibration: torch.Tensor, batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """Activation correlation per perm over the stacked units of all models [K*d, K*d].

    Sites named ``perm#i`` (the residual stream at several depths) are averaged into ``perm``;
    every token or pixel of every image is a sample. ViT: ``res`` at every block output,
    ``qk.{l}`` the keys, ``v.{l}`` the per-head attention outputs, ``mlp.{l}`` the input of
    ``c_proj``. ResNet: ``res.{s}`` every block output of the segment, ``inner.{i}`` the input
    of conv2.

    Args:
        models: K models of one architecture, model 0 first in the stacking.
        calibration: preprocessed images [N, C, S, S].
        batch_size: images per forward pass; peak memory grows with it.
    """
    device = next(models[0].parameters()).device
    collector = _Collector(len(models))
    register = register_for(models[0])
    handles = [h for m in models for h in register(m, collector)]
    try:
        with _eval_mode(*models):
            for start in range(0, len(calibration), batch_size):
                batch = calibration[start : start + batch_size].to(device)
                for model in models:
                    model(batch)
    finally:
        for handle in handles:
            handle.remove()
    groups: dict[str, list[torch.Tensor]] = {}
    for site, stats in collector.stats.items():
        groups.setdefault(site.split("#")[0], []).append(stats.correlation())
    log.info("activation statistics over %d images", len(calibration))
    return {name: torch.stack(corrs).mean(0) for name, corrs in groups.items()}


def activation_similarity(
    reference: nn.Module, other: nn.Module, calibration: torch.Tensor, batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """The cross block of :func:`joint_activation_similarity` for two models (rows:
    ``reference`` units, cols: ``other``)."""
    return cross_blocks(joint_activation_similarity([reference, other], calibration, batch_size))


def cross_blocks(joint: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The (model 0, model 1) blocks of two-model joint similarities."""
    return {name: sim[: len(sim) // 2, len(sim) // 2 :] for name, sim in joint.items()}


def unit_features(state: StateDict, spec: PermSpec, name: str) -> torch.Tensor:
    """Each unit of perm ``name`` as one row: its slices of every tensor in the perm."""
    perm = spec.perms[name]
    parts = [
        state[s.key].narrow(s.axis, s.start, perm.size).movedim(s.axis, 0).reshape(perm.size, -1)
        for s in perm.slots
        if not s.stat
    ]
    return torch.cat(parts, dim=1).float()


def standardise(rows: torch.Tensor) -> torch.Tensor:
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
            self._units_a[name] = standardise(unit_features(self.reference, self.spec, name))
        touched = {k: self.other[k] for k in self.spec.keys(name)}
        units_b = unit_features(apply_permutations(touched, perms, self.spec), self.spec, name)
        return self._units_a[name], standardise(units_b)

    def matrix(self, name: str, perms: Perms) -> torch.Tensor:
        """S_w [d_p, d_p] for perm ``name`` with the other perms at ``perms``."""
        others = {p: perm for p, perm in perms.items() if p != name}
        units_a, units_b = self._units(name, others)
        return units_a @ units_b.T

    def matched(self, name: str, perms: Perms) -> torch.Tensor:
        """The similarity of each A unit to the B unit ``perms[name]`` pairs it with [d_p]."""
        units_a, units_b = self._units(name, perms)
        return (units_a * units_b).sum(dim=1)
