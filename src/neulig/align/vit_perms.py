"""Permutation symmetries of open_clip's ``VisionTransformer`` and how to apply them.

A permutation is a LongTensor ``perm`` of unit indices with ``new[i] = old[perm[i]]``: after
permuting model B, its unit ``i`` is B's former unit ``perm[i]`` and lines up with A's unit ``i``.

Perms of a tower with L blocks (the MuDSC layout, Xu et al. 2024, adapted to open_clip):

- ``res``: the residual stream; every tensor that writes to or reads from it. ``proj``'s output
  side stays fixed because it has to match the frozen text head.
- ``qk.{l}``: the rows of Q and K in ``in_proj_weight``/``in_proj_bias`` (one shared sigma keeps
  q.k unchanged).
- ``v.{l}``: the rows of V plus the columns of ``out_proj.weight``.
- ``mlp.{l}``: the rows of ``c_fc`` plus the columns of ``c_proj``.

``qk.{l}`` and ``v.{l}`` are head-structured: both have to move whole heads in the same way (the
attention weights of head h only ever mix the values of head h). Within a head, QK and V may use
different orders. :func:`compose_heads` builds such perms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]
Perms = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Slot:
    """One slice of a tensor that a perm reorders: ``tensor.narrow(axis, start, size)``."""

    key: str
    axis: int
    start: int = 0
    # running statistics (BN mean/var): permuted, but no evidence of what a unit computes
    stat: bool = False
    # does this slice read the units (unmerged by a zip) rather than write them (merged)?
    # None: axis 1 reads (weight columns), every other axis writes
    consumes: bool | None = None

    @property
    def is_consumer(self) -> bool:
        return self.axis == 1 if self.consumes is None else self.consumes


@dataclass(frozen=True)
class Perm:
    """A group of units that can be reordered together.

    Attributes:
        size: number of units.
        slots: every tensor slice indexed by these units.
        heads: number of heads (or GroupNorm groups) for group-structured perms, 1 otherwise.
    """

    size: int
    slots: tuple[Slot, ...]
    heads: int = 1


@dataclass(frozen=True)
class PermSpec:
    """All perms of a model.

    Attributes:
        perms: perm name -> :class:`Perm`.
        head_pairs: ``(qk, v)`` perm names that must share one head permutation.
        fixed: state keys that no perm touches on purpose (BN's ``num_batches_tracked``).
    """

    perms: dict[str, Perm]
    head_pairs: tuple[tuple[str, str], ...]
    fixed: tuple[str, ...] = ()

    def keys(self, name: str) -> set[str]:
        """The state-dict keys that perm ``name`` touches."""
        return {slot.key for slot in self.perms[name].slots}

    def neighbours(self, name: str) -> list[str]:
        """The other perms that share a tensor with ``name`` (its weight similarity depends on
        them)."""
        keys = self.keys(name)
        return [other for other in self.perms if other != name and keys & self.keys(other)]


def _norm_slots(prefix: str) -> list[Slot]:
    """A LayerNorm's scale and shift, both indexed by the residual stream."""
    return [Slot(f"{prefix}.weight", 0), Slot(f"{prefix}.bias", 0)]


def _block_slots(prefix: str, width: int) -> dict[str, list[Slot]]:
    attn, mlp = f"{prefix}.attn", f"{prefix}.mlp"
    return {
        "res": [
            *_norm_slots(f"{prefix}.ln_1"),
            Slot(f"{attn}.in_proj_weight", 1),
            Slot(f"{attn}.out_proj.weight", 0),
            Slot(f"{attn}.out_proj.bias", 0),
            Slot(f"{prefix}.ls_1.gamma", 0),
            *_norm_slots(f"{prefix}.ln_2"),
            Slot(f"{mlp}.c_fc.weight", 1),
            Slot(f"{mlp}.c_proj.weight", 0),
            Slot(f"{mlp}.c_proj.bias", 0),
            Slot(f"{prefix}.ls_2.gamma", 0),
        ],
        "qk": [
            Slot(f"{attn}.in_proj_weight", 0, 0),
            Slot(f"{attn}.in_proj_weight", 0, width),
            Slot(f"{attn}.in_proj_bias", 0, 0),
            Slot(f"{attn}.in_proj_bias", 0, width),
        ],
        "v": [
            Slot(f"{attn}.in_proj_weight", 0, 2 * width),
            Slot(f"{attn}.in_proj_bias", 0, 2 * width),
            Slot(f"{attn}.out_proj.weight", 1),
        ],
        "mlp": [
            Slot(f"{mlp}.c_fc.weight", 0),
            Slot(f"{mlp}.c_fc.bias", 0),
            Slot(f"{mlp}.c_proj.weight", 1),
        ],
    }


def vit_spec(visual: nn.Module) -> PermSpec:
    """The permutation spec of an open_clip ``VisionTransformer`` (any width, depth, heads).

    Raises:
        ValueError: the tower has tensors the spec does not cover (attentional pooling, custom
            attention blocks, ...), so a permutation would not be an exact symmetry.
    """
    state = visual.state_dict()
    blocks = visual.transformer.resblocks
    width = visual.conv1.out_channels
    res = [
        Slot("conv1.weight", 0),
        Slot("class_embedding", 0),
        Slot("positional_embedding", 1, consumes=False),
        *_norm_slots("ln_pre"),
        *_norm_slots("ln_post"),
        Slot("proj", 0, consumes=True),
    ]
    perms: dict[str, Perm] = {}
    pairs = []
    for i, block in enumerate(blocks):
        slots = _block_slots(f"transformer.resblocks.{i}", width)
        res += slots["res"]
        heads = block.attn.num_heads
        perms[f"qk.{i}"] = Perm(width, tuple(slots["qk"]), heads)
        perms[f"v.{i}"] = Perm(width, tuple(slots["v"]), heads)
        perms[f"mlp.{i}"] = Perm(block.mlp.c_fc.out_features, tuple(slots["mlp"]))
        pairs.append((f"qk.{i}", f"v.{i}"))
    # ln_pre, ls_1/ls_2 and proj are optional in open_clip configs
    perms = {"res": Perm(width, tuple(s for s in res if s.key in state)), **perms}
    return check_spec(PermSpec(perms, tuple(pairs)), state, "vision tower")


def check_spec(spec: PermSpec, state: StateDict, what: str) -> PermSpec:
    """``spec`` if it covers every tensor of ``state`` and every slot fits its tensor.

    Raises:
        ValueError: a tensor is in no perm (a permutation would not be an exact symmetry) or a
            slot does not fit.
    """
    covered = {key for name in spec.perms for key in spec.keys(name)} | set(spec.fixed)
    uncovered = set(state) - covered
    if uncovered:
        raise ValueError(f"unsupported {what}: no permutation spec for {sorted(uncovered)}")
    for name, perm in spec.perms.items():
        if perm.size % perm.heads:
            raise ValueError(f"unsupported {what}: perm {name} does not split into groups")
        for slot in perm.slots:
            if slot.key not in state or state[slot.key].shape[slot.axis] < slot.start + perm.size:
                raise ValueError(f"unsupported {what}: {slot.key} does not fit perm {name}")
    return spec


def apply_permutations(state: StateDict, perms: Perms, spec: PermSpec) -> StateDict:
    """Reorder the units of ``state`` by ``perms``.

    Perms missing from ``perms`` stay identity and keys missing from ``state`` are skipped, so a
    partial state or a partial set of perms is fine. Untouched tensors are passed through, not
    copied.
    """
    index: dict[tuple[str, int], torch.Tensor] = {}
    for name, perm in perms.items():
        for slot in spec.perms[name].slots:
            if slot.key not in state:
                continue
            dim = state[slot.key].shape[slot.axis]
            idx = index.setdefault((slot.key, slot.axis), torch.arange(dim))
            idx[slot.start : slot.start + len(perm)] = perm.cpu() + slot.start
    out = dict(state)
    for (key, axis), idx in index.items():
        out[key] = out[key].index_select(axis, idx.to(out[key].device))
    return out


def compose_heads(head_perm: torch.Tensor, within: torch.Tensor) -> torch.Tensor:
    """The unit perm that moves head ``head_perm[h]`` to slot ``h`` and reorders its units by
    ``within[h]`` (shape ``[heads, head_dim]``)."""
    head_dim = within.shape[1]
    return (head_perm[:, None] * head_dim + within).reshape(-1)


def random_permutations(spec: PermSpec, generator: torch.Generator) -> Perms:
    """Random perms that are an exact symmetry of the model: group-structured perms move whole
    groups, and the perms of a head pair share one head perm."""
    perms = {}
    for units in solve_units(spec):
        first = spec.perms[units[0]]
        head_perm = torch.randperm(first.heads, generator=generator)
        for name in units:
            within = torch.stack(
                [torch.randperm(first.size // first.heads, generator=generator)
                 for _ in range(first.heads)]
            )  # fmt: skip
            perms[name] = compose_heads(head_perm, within)
    return perms


def solve_units(spec: PermSpec) -> list[tuple[str, ...]]:
    """Perms solved together: a block's QK and V (shared heads), every other perm alone."""
    paired = {name for pair in spec.head_pairs for name in pair}
    return [*spec.head_pairs, *((name,) for name in spec.perms if name not in paired)]


def invert(perm: torch.Tensor) -> torch.Tensor:
    """The perm that undoes ``perm``."""
    return torch.argsort(perm)
