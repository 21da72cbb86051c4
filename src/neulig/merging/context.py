"""What a merge method can see: the checkpoints, and lazily, the data and the model skeleton.

Data-free methods read ``pretrained`` and ``experts``; methods that need data (Gram matrices,
Fisher information, unlabelled test batches) call :meth:`MergeContext.batch`,
:meth:`MergeContext.heads` and :meth:`MergeContext.skeleton`, which load on first use, so a
data-free merge never touches the datasets.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from neulig.data.packed import load_task
from neulig.evaluate import read_heads
from neulig.merging.state_dict import StateDict, task_vectors
from neulig.models import create_vision_tower, split_extra


@dataclass
class MergeContext:
    """Inputs of one merge: ``experts`` maps task names to fine-tuned vision-tower states.

    ``data`` maps task names to packed dataset folders and ``heads_path`` is the zero-shot heads
    file; both are optional for data-free methods. ``tower`` is a prebuilt skeleton (any
    module whose ``state_dict`` keys match), used instead of building ``architecture``.
    ``diagnostics`` is where a method leaves what it learned (AdaMerging's lambdas, WeMoE's
    mean routing weights) as JSON-able values; :func:`neulig.merging.merge` clears it first.
    """

    pretrained: StateDict
    experts: dict[str, StateDict]
    architecture: str | None = None
    data: dict[str, str | os.PathLike] = field(default_factory=dict)
    heads_path: str | os.PathLike | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    tower: nn.Module | None = None
    diagnostics: dict = field(default_factory=dict)

    @cached_property
    def task_vectors(self) -> dict[str, StateDict]:
        """tau_t = theta_t - theta_0, computed once per context."""
        return task_vectors(self.pretrained, self.experts)

    @cached_property
    def _skeleton(self) -> nn.Module:
        if self.tower is not None:
            return self.tower.eval()
        if self.architecture is None:
            raise ValueError("this merge method needs the model: give MergeContext.architecture")
        return create_vision_tower(self.architecture).eval()

    def skeleton(self, state: StateDict | None = None) -> nn.Module:
        """A fresh vision tower on ``device``, holding ``state`` (default: the pretrained);
        a merge's ``extra/`` tensors (WeMoE's routers) are not tower weights and are skipped."""
        module = copy.deepcopy(self._skeleton)
        module.load_state_dict(split_extra(self.pretrained if state is None else state)[0])
        return module.to(self.device).eval()

    @cached_property
    def heads(self) -> dict:
        return read_heads(self.heads_path, list(self.experts))

    def batch(self, task: str, split: str, count: int | None = None):
        """``(images, labels)`` of ``task``'s ``split``; with ``count``, a seeded sample.

        Unlabelled methods (AdaMerging, WeMoE) take ``split="test"`` and must ignore labels.
        """
        images, labels = self._split(task, split)
        if count is None or count >= len(labels):
            return images, labels
        generator = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(len(labels), generator=generator)[:count].sort().values
        return images[idx], labels[idx]

    def _split(self, task: str, split: str):
        key = (task, split)
        if key not in self._loaded:
            self._loaded[key] = load_task(self.data[task], splits=(split,)).splits[split].tensors()
        return self._loaded[key]

    @cached_property
    def _loaded(self) -> dict:
        return {}
