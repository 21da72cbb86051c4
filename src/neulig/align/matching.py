"""Permutation matching (MuDSC, Xu et al. 2024) and the registry of alignment methods.

Every method has one signature, ``(reference, other, calibration, *, lam, seed, batch_size,
activation) -> AlignResult`` (``activation``: precomputed S_a cross blocks, see
:func:`neulig.align.similarity.cross_blocks`); ``reference`` stays as it is and ``other`` is
permuted onto it. Choices where the original code (github zju-vipa/training_free_model_merging)
differs:

- QK and V of a block share one head assignment (matched on the summed QK + V head scores), so
  the permuted model is an exact re-parametrisation.
- The residual stream's activation similarity averages every block output, not only the final
  pooled feature.

The coordinate-descent score is the mean matched similarity of the state reached after a sweep,
with the weight similarities evaluated for that state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from neulig.align.perm_specs import spec_for
from neulig.align.similarity import WeightSimilarity, activation_similarity
from neulig.align.solve import match_heads, solve_lap
from neulig.align.vit_perms import Perms, PermSpec, StateDict, apply_permutations, solve_units

log = logging.getLogger(__name__)

Unit = tuple[str, ...]


@dataclass
class AlignResult:
    """What an alignment method returns.

    Attributes:
        perms: perm name -> LongTensor (``new[i] = old[perm[i]]``) applied to ``other``.
        state: ``other``'s state dict, permuted onto ``reference``.
        diagnostics: ``method``, ``lam``, ``objective`` and ``sweeps`` where the method optimises,
            and per perm (``perms``) the mean matched ``weight_similarity``, the mean matched
            ``activation_similarity`` where computed and the ``identity_fraction`` of units
            matched to themselves.
    """

    perms: dict[str, torch.Tensor]
    state: StateDict
    diagnostics: dict = field(default_factory=dict)


@dataclass
class _Objective:
    """S = lam * S_w + (1 - lam) * S_a per perm, and its mean matched value."""

    spec: PermSpec
    lam: float
    activation: dict[str, torch.Tensor] | None
    weight: WeightSimilarity

    def matrix(self, name: str, perms: Perms) -> torch.Tensor:
        if self.lam == 0:
            return self.activation[name]
        sim = self.lam * self.weight.matrix(name, perms)
        return sim if self.lam == 1 else sim + (1 - self.lam) * self.activation[name]

    def matched(self, name: str, perms: Perms) -> dict[str, float]:
        """Mean matched similarity of perm ``name``: weight, activation (where known), blend."""
        out = {"weight_similarity": self.weight.matched(name, perms).mean().item()}
        if self.activation is not None:
            act = self.activation[name]
            out["activation_similarity"] = act[torch.arange(len(act)), perms[name]].mean().item()
        out["similarity"] = self.lam * out["weight_similarity"]
        if self.lam < 1:
            out["similarity"] += (1 - self.lam) * out["activation_similarity"]
        return out

    def score(self, perms: Perms) -> float:
        values = [self.matched(name, perms)["similarity"] for name in self.spec.perms]
        return float(np.mean(values))

    def solve(self, unit: Unit, perms: Perms) -> Perms:
        """Re-solve the perms of ``unit`` with every other perm held at ``perms``."""
        sims = [self.matrix(name, perms) for name in unit]
        heads = self.spec.perms[unit[0]].heads
        if heads > 1:
            return dict(zip(unit, match_heads(sims, heads), strict=True))
        return {unit[0]: solve_lap(sims[0])}


def _descend(
    objective: _Objective, perms: Perms, seed: int, max_sweeps: int = 100, patience: int = 5
) -> tuple[Perms, float, int]:
    """Coordinate descent: sweep the units in a seeded random order, re-solving each on S.

    A unit is only re-solved when a perm it depends on changed since its last solve (its S would
    be the same otherwise). After a sweep without improvement the state reverts to the best one;
    the descent stops after ``patience`` of those or when a sweep changes nothing.
    """
    spec, units = objective.spec, solve_units(objective.spec)
    deps = {u: sorted({n for name in u for n in spec.neighbours(name)} - set(u)) for u in units}
    cache: dict[Unit, tuple[Perms, Perms]] = {}
    rng = np.random.default_rng(seed)
    best, best_score = dict(perms), objective.score(perms)
    stale = sweeps = 0
    while sweeps < max_sweeps and stale < patience:
        sweeps += 1
        changed = False
        for i in rng.permutation(len(units)):
            unit = units[i]
            inputs = {n: perms[n] for n in deps[unit]}
            hit = cache.get(unit)
            if hit is not None and all(torch.equal(hit[0][n], inputs[n]) for n in inputs):
                solved = hit[1]
            else:
                solved = objective.solve(unit, perms)
                cache[unit] = (inputs, solved)
            changed |= any(not torch.equal(solved[n], perms[n]) for n in unit)
            perms = {**perms, **solved}
        score = objective.score(perms)
        log.info("sweep %d: score %.6f (best %.6f)", sweeps, score, best_score)
        if score > best_score + 1e-9:
            best, best_score, stale = dict(perms), score, 0
        else:
            perms, stale = dict(best), stale + 1
        if not changed:
            break
    return best, best_score, sweeps


@torch.no_grad()
def _align(
    reference: nn.Module,
    other: nn.Module,
    calibration: torch.Tensor | None,
    *,
    method: str,
    lam: float,
    seed: int,
    batch_size: int,
    descend: bool,
    activation: dict[str, torch.Tensor] | None,
) -> AlignResult:
    """Shared driver: S_a-initialised perms (identity without calibration), optional descent.
    A given ``activation`` (S_a cross blocks) stands in for the calibration pass.

    Raises:
        ValueError: ``lam`` outside [0, 1] or the towers' architectures differ.
    """
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must lie in [0, 1], not {lam}")
    spec = spec_for(reference)
    state_a, state_b = reference.state_dict(), other.state_dict()
    shapes_a = {k: v.shape for k, v in state_a.items()}
    if shapes_a != {k: v.shape for k, v in state_b.items()}:
        raise ValueError("cannot align models of different architectures")
    if calibration is None:
        activation = None
    elif activation is None:
        activation = activation_similarity(reference, other, calibration, batch_size)
    objective = _Objective(spec, lam, activation, WeightSimilarity(spec, state_a, state_b))
    perms = {name: torch.arange(perm.size) for name, perm in spec.perms.items()}
    diagnostics: dict = {"method": method}
    if activation is not None:
        initial = _Objective(spec, 0.0, activation, objective.weight)
        for unit in solve_units(spec):
            perms.update(initial.solve(unit, perms))
    if descend:
        perms, score, sweeps = _descend(objective, perms, seed)
        diagnostics |= {"lam": lam, "objective": score, "sweeps": sweeps}
    elif activation is not None:
        diagnostics |= {"lam": lam, "objective": objective.score(perms)}
    per_perm = {}
    for name, perm in perms.items():
        stats = objective.matched(name, perms)
        stats.pop("similarity")
        stats["identity_fraction"] = (perm == torch.arange(len(perm))).float().mean().item()
        per_perm[name] = stats
    diagnostics["perms"] = per_perm
    log.info("%s alignment: %s", method, {k: v for k, v in diagnostics.items() if k != "perms"})
    return AlignResult(perms, apply_permutations(state_b, perms, spec), diagnostics)


def _method(name: str, *, activations: bool, fixed_lam: float | None, descend: bool, doc: str):
    """One registry entry: which similarities it uses and whether it runs coordinate descent."""

    def run(
        reference: nn.Module,
        other: nn.Module,
        calibration: torch.Tensor,
        *,
        lam: float = 0.5,
        seed: int = 0,
        batch_size: int = 64,
        activation: dict[str, torch.Tensor] | None = None,
    ) -> AlignResult:
        lam = lam if fixed_lam is None else fixed_lam
        calibration = calibration if activations else None
        return _align(reference, other, calibration, method=name, lam=lam, seed=seed,
                      batch_size=batch_size, descend=descend, activation=activation)  # fmt: skip

    run.__name__, run.__doc__ = name, doc
    return run


ALIGN_METHODS: dict[str, Callable[..., AlignResult]] = {
    "identity": _method(
        "identity", activations=False, fixed_lam=1.0, descend=False,
        doc="No permutation (the baseline); skips the calibration pass; ``lam`` is unused.",
    ),
    "weight": _method(
        "weight", activations=False, fixed_lam=1.0, descend=True,
        doc="Weight similarity only (lam = 1), coordinate descent from identity.",
    ),
    "activation": _method(
        "activation", activations=True, fixed_lam=0.0, descend=False,
        doc="Activation similarity only (lam = 0; ZipIt-style permutation): one LAP per perm, "
        "no descent, since S_a does not depend on the other perms.",
    ),
    "mudsc": _method(
        "mudsc", activations=True, fixed_lam=None, descend=True,
        doc="MuDSC: perms from S_a, then coordinate descent on lam * S_w + (1 - lam) * S_a.",
    ),
}  # fmt: skip


def align(
    method: str,
    reference: nn.Module,
    other: nn.Module,
    calibration: torch.Tensor,
    **kwargs: float | int,
) -> AlignResult:
    """Run ``ALIGN_METHODS[method]``.

    Raises:
        ValueError: unknown method.
    """
    if method not in ALIGN_METHODS:
        known = sorted(ALIGN_METHODS)
        raise ValueError(f"unknown alignment method {method!r}; pick one of {known}")
    return ALIGN_METHODS[method](reference, other, calibration, **kwargs)
