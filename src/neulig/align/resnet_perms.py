"""Permutation spec and activation sites of :class:`neulig.resnet.ResNet`.

Perms (the ZipIt/MuDSC layout):

- ``res.{s}``: the residual stream of stage segment ``s``. The stem starts segment 0; every
  downsampling block's 1x1 shortcut starts a new one (its input side reads the old segment,
  its output side writes the new one). Everything that writes the stream (stem conv, each
  block's second conv and shortcut conv, their norms) or reads it (first convs, shortcut
  convs, the head's linear map) is in it.
- ``inner.{i}``: block ``i``'s hidden channels (conv1 rows, its norm, conv2 columns).

With GroupNorm every perm is group-structured (``heads`` = groups): a GN layer normalises
each group of channels together, so only whole groups may move (within-group orders are
free). BN running statistics are permuted but marked ``stat`` (not used as weight evidence).
"""

from __future__ import annotations

from torch import nn

from neulig.align.vit_perms import Perm, PermSpec, Slot, check_spec
from neulig.resnet import ResNet


def _norm_slots(prefix: str, norm: nn.Module) -> list[Slot]:
    slots = [Slot(f"{prefix}.weight", 0), Slot(f"{prefix}.bias", 0)]
    if isinstance(norm, nn.BatchNorm2d):
        slots += [Slot(f"{prefix}.running_mean", 0, stat=True),
                  Slot(f"{prefix}.running_var", 0, stat=True)]  # fmt: skip
    return slots


def segments(model: ResNet) -> list[int]:
    """The residual segment each block writes (a new one at each shortcut conv)."""
    out, segment = [], 0
    for block in model.blocks:
        segment += len(block.shortcut) > 0
        out.append(segment)
    return out


def _block_slots(i: int, block: nn.Module) -> tuple[list[Slot], list[Slot], list[Slot]]:
    """Block ``i``'s slots on the stream it reads, the stream it writes, and its hidden perm."""
    p = f"blocks.{i}"
    reads = [Slot(f"{p}.conv1.weight", 1)]
    writes = [Slot(f"{p}.conv2.weight", 0), *_norm_slots(f"{p}.bn2", block.bn2)]
    if len(block.shortcut):
        reads.append(Slot(f"{p}.shortcut.0.weight", 1))
        writes += [Slot(f"{p}.shortcut.0.weight", 0),
                   *_norm_slots(f"{p}.shortcut.1", block.shortcut[1])]  # fmt: skip
    inner = [Slot(f"{p}.conv1.weight", 0), *_norm_slots(f"{p}.bn1", block.bn1),
             Slot(f"{p}.conv2.weight", 1)]  # fmt: skip
    return reads, writes, inner


def resnet_spec(model: ResNet) -> PermSpec:
    """The permutation spec of a :class:`ResNet` (checked to cover every tensor).

    Raises:
        ValueError: the model has tensors the spec does not cover.
    """
    groups = model.config["groups"] if model.config["norm"] == "gn" else 1
    res: dict[int, list[Slot]] = {0: [Slot("stem.0.weight", 0),
                                      *_norm_slots("stem.1", model.stem[1])]}  # fmt: skip
    perms: dict[str, Perm] = {}
    widths = {0: model.stem[0].out_channels}
    reading = 0
    for i, (block, segment) in enumerate(zip(model.blocks, segments(model), strict=True)):
        reads, writes, inner = _block_slots(i, block)
        res[reading] += reads
        res.setdefault(segment, []).extend(writes)
        widths[segment] = block.conv2.out_channels
        perms[f"inner.{i}"] = Perm(block.conv1.out_channels, tuple(inner), groups)
        reading = segment
    res[reading].append(Slot("head.2.weight", 1))
    perms = {**{f"res.{s}": Perm(widths[s], tuple(v), groups) for s, v in res.items()}, **perms}
    fixed = tuple(k for k in model.state_dict() if k.endswith("num_batches_tracked"))
    return check_spec(PermSpec(perms, (), fixed), model.state_dict(), "ResNet")


def register_resnet(model: ResNet, sink) -> list:
    """Hooks feeding ``sink`` each block's output (site ``res.{s}#{i}``, averaged per segment
    like the ViT residual) and each block's hidden features (the input of conv2)."""

    def emit(site: str, x):
        sink(site, x.movedim(1, -1))  # channels last: every pixel is a sample

    handles = [model.stem.register_forward_hook(lambda _m, _a, out: emit("res.0#stem", out))]
    for i, (block, segment) in enumerate(zip(model.blocks, segments(model), strict=True)):
        handles += [
            block.register_forward_hook(
                lambda _m, _a, out, i=i, s=segment: emit(f"res.{s}#{i}", out)
            ),
            block.conv2.register_forward_pre_hook(
                lambda _m, args, i=i: emit(f"inner.{i}", args[0])
            ),
        ]
    return handles
