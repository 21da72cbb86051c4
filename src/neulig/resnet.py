"""ResNet-20xk, CIFAR style (He et al. 2016; the model family of ZipIt and MuDSC).

Three stages of three BasicBlocks with 16k, 32k and 64k channels; the first block of stages 2
and 3 downsamples and has a 1x1-conv shortcut. Norm layers are BatchNorm or GroupNorm. The
network ends in a bias-free linear map into a fixed embedding space (the CLIP text space of
the classifier heads), so its output side is shared by every model and never permuted.

The model is a flat list of layers (stem, nine blocks, head) so that it can be run in pieces:
partial zipping runs a merged prefix once and each model's own suffix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

BLOCKS_PER_STAGE = 3


def make_norm(kind: str, channels: int, groups: int) -> nn.Module:
    """``"bn"`` -> BatchNorm2d, ``"gn"`` -> GroupNorm with ``groups`` groups."""
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    if kind == "gn":
        return nn.GroupNorm(groups, channels)
    raise ValueError(f"unknown norm {kind!r}; pick bn or gn")


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, norm: str, groups: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = make_norm(norm, cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = make_norm(norm, cout, groups)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), make_norm(norm, cout, groups)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-20 x ``width`` mapping images to ``embed_dim`` features.

    Args:
        width: channel multiplier k (stage widths 16k, 32k, 64k).
        embed_dim: output dimension (the classifier heads' embedding space).
        in_channels: image channels.
        norm: ``"bn"`` or ``"gn"``.
        groups: GroupNorm groups (must divide 16k).
    """

    def __init__(
        self, width: int, embed_dim: int, in_channels: int = 3, norm: str = "bn", groups: int = 4
    ) -> None:
        super().__init__()
        self.config = {"width": width, "embed_dim": embed_dim, "in_channels": in_channels,
                       "norm": norm, "groups": groups}  # fmt: skip
        channels = [16 * width, 32 * width, 64 * width]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False),
            make_norm(norm, channels[0], groups),
            nn.ReLU(),
        )
        blocks, cin = [], channels[0]
        for stage, cout in enumerate(channels):
            for i in range(BLOCKS_PER_STAGE):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(cin, cout, stride, norm, groups))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, embed_dim, bias=False)
        )

    @property
    def layers(self) -> list[nn.Module]:
        """Stem, blocks, head: ``forward`` is their composition."""
        return [self.stem, *self.blocks, self.head]

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Layers ``start`` to ``stop`` (exclusive) of :attr:`layers`."""
        for layer in self.layers[start:stop]:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


@contextlib.contextmanager
def _training(model: nn.Module) -> Iterator[None]:
    mode = model.training
    model.train()
    try:
        yield
    finally:
        model.train(mode)


@torch.no_grad()
def reset_bn(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``images`` (in place).

    Merged weights make the stored statistics wrong (a merged channel's mean is not the mean
    of its members' means once the layers before it changed), so both MuDSC and ZipIt
    recompute them with one train-mode pass; ``momentum=None`` makes it an exact average over
    batches rather than an exponential one.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return model
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    with _training(model):
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return model


def layer_index(key: str) -> int:
    """The index in :attr:`ResNet.layers` of the layer that holds state key ``key``."""
    top, _, rest = key.partition(".")
    if top == "stem":
        return 0
    if top == "blocks":
        return int(rest.split(".")[0]) + 1
    return 3 * BLOCKS_PER_STAGE + 1
