"""ZipIt and MuDSC-Zip over K models: similarities, one zip per perm, merged weights.

- ZipIt: S = the joint activation correlation [K*d, K*d] of each perm.
- MuDSC-Zip: S = lam * S_w + (1 - lam) * S_a. S_w correlates every unit's concatenated weight
  slices; to put model k's slices into model 0's coordinates along the *other* perms' axes,
  model k is first aligned onto model 0 by MuDSC (permutations). The original code
  re-expresses them through the current zip matrices inside its coordinate descent; using the
  MuDSC permutations instead is a simplification (exact when the models are permuted copies).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from neulig.align.apply import PartialZip, apply_zip
from neulig.align.greedy_zip import greedy_zip, group_zip
from neulig.align.matching import align
from neulig.align.perm_specs import layer_of, spec_for, split_point
from neulig.align.similarity import joint_activation_similarity, standardise, unit_features
from neulig.align.vit_perms import Perms, PermSpec, StateDict, apply_permutations, solve_units

log = logging.getLogger(__name__)


@dataclass
class ZipResult:
    """``state``: the merged state (loadable into the models' architecture); ``transforms``:
    perm name -> P [K*d, d]; ``diagnostics``: method settings and per-perm merge counts."""

    state: StateDict
    transforms: dict[str, torch.Tensor]
    diagnostics: dict = field(default_factory=dict)


def joint_weight_similarity(
    spec: PermSpec, states: Sequence[StateDict], perms: Sequence[Perms]
) -> dict[str, torch.Tensor]:
    """S_w [K*d, K*d] per perm; ``perms[k]`` maps model k onto model 0 (``perms[0]`` empty)."""
    out = {}
    for name in spec.perms:
        rows = []
        for state, own in zip(states, perms, strict=True):
            others = {p: perm for p, perm in own.items() if p != name}
            touched = {key: state[key] for key in spec.keys(name)}
            rows.append(standardise(
                unit_features(apply_permutations(touched, others, spec), spec, name)
            ))  # fmt: skip
        stacked = torch.cat(rows)
        out[name] = stacked @ stacked.T
    return out


def zip_transforms(
    spec: PermSpec, sims: dict[str, torch.Tensor], models: int, alpha: float, beta: float
) -> dict[str, torch.Tensor]:
    """One zip per perm; head pairs and group-structured perms zip inside matched groups."""
    out = {}
    for unit in solve_units(spec):
        heads = spec.perms[unit[0]].heads
        if heads > 1:
            zips = group_zip([sims[n] for n in unit], models, heads, alpha, beta)
            out.update(zip(unit, zips, strict=True))
        else:
            out[unit[0]] = greedy_zip(sims[unit[0]], models, alpha, beta)
    return out


def _cross(joint: dict[str, torch.Tensor], models: int, k: int) -> dict[str, torch.Tensor]:
    """The (model 0, model k) blocks of K-model joint similarities."""
    out = {}
    for name, sim in joint.items():
        d = len(sim) // models
        out[name] = sim[:d, k * d : (k + 1) * d]
    return out


def _similarities(
    models: Sequence[nn.Module],
    calibration: torch.Tensor,
    lam: float,
    shared: dict,
    seed: int,
    batch_size: int,
) -> dict[str, torch.Tensor]:
    """ZipIt's S_a (lam = 0) or MuDSC's blend with S_w (lam > 0); ``shared`` may hold
    precomputed ``activation`` (joint S_a) and ``perms`` (models 1.. aligned onto model 0)."""
    activation = shared.get("activation")
    if activation is None:
        activation = joint_activation_similarity(models, calibration, batch_size)
    if lam == 0:
        return activation
    spec = spec_for(models[0])
    perms = [{}, *(shared.get("perms") or [
        align("mudsc", models[0], m, calibration, lam=lam, seed=seed, batch_size=batch_size,
              activation=_cross(activation, len(models), k)).perms
        for k, m in enumerate(models[1:], start=1)
    ])]  # fmt: skip
    weight = joint_weight_similarity(spec, [m.state_dict() for m in models], perms)
    return {n: lam * weight[n] + (1 - lam) * activation[n] for n in spec.perms}


@torch.no_grad()
def zip_models(
    models: Sequence[nn.Module],
    calibration: torch.Tensor,
    *,
    lam: float = 0.0,
    alpha: float = 0.5,
    beta: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    shared: dict | None = None,
) -> ZipResult:
    """Zip K models of one architecture into one (ZipIt at ``lam = 0``, else MuDSC-Zip).

    ``shared`` saves recomputation across calls: ``activation`` (the joint S_a of ``models``
    on ``calibration``) and ``perms`` (MuDSC perms of models 1.. onto model 0 at this lam).

    Raises:
        ValueError: ``lam`` outside [0, 1] or fewer than two models.
    """
    if not 0 <= lam <= 1 or len(models) < 2:
        raise ValueError(f"zip needs lam in [0, 1] and two or more models (lam={lam})")
    spec = spec_for(models[0])
    sims = _similarities(models, calibration, lam, shared or {}, seed, batch_size)
    transforms = zip_transforms(spec, sims, len(models), alpha, beta)
    state = apply_zip([m.state_dict() for m in models], spec, transforms)
    within = {n: int((p.sum(0) != len(models)).sum()) for n, p in transforms.items()}
    diagnostics = {"lam": lam, "alpha": alpha, "beta": beta, "uneven_units": within}
    log.info("zipped %d models (lam %.2f)", len(models), lam)
    return ZipResult(state, transforms, diagnostics)


def partial_zip(models: Sequence[nn.Module], result: ZipResult, stop: int) -> PartialZip:
    """The models zipped by ``result``'s transforms up to depth ``stop`` (0: nothing, the
    ensemble; 1: stem / embeddings; 1 + i: up to block i), each model keeping its own remaining
    layers. Only the perms with a tensor above the split are zipped."""
    model = models[0]
    spec = spec_for(model)
    zipped = [n for n, perm in spec.perms.items()
              if min(layer_of(model, s.key) for s in perm.slots) < stop]  # fmt: skip
    transforms = {n: result.transforms[n] for n in zipped}
    trunk = copy.deepcopy(model)
    trunk.load_state_dict(apply_zip([m.state_dict() for m in models], spec, transforms))
    if stop == 0:
        return PartialZip(trunk, models, None, None, 1)
    _, perm, channel_dim = split_point(model, stop)
    return PartialZip(trunk, models, lambda m: split_point(m, stop)[0], transforms[perm],
                      channel_dim)  # fmt: skip
