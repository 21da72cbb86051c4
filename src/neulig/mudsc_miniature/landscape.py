"""The multi-task loss landscape on the plane through three models' weights (MuDSC Fig. 1).

The plane passes through model A, model B aligned onto A (the same function as B) and a merged
model Z. Coordinates are orthonormal in weight space (Gram-Schmidt on B - A and Z - A), so
distances in the figure are true Euclidean distances between weight vectors. BN running
statistics are not coordinates: every grid point re-estimates them on the calibration images.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from neulig.mudsc_miniature.tasks import MiniTask
from neulig.mudsc_miniature.train import task_loss
from neulig.resnet import ResNet, reset_bn


@dataclass
class Landscape:
    """``loss[t, i, j]``: task t's val loss at ``(x[j], y[i])``; ``points``: name -> (x, y) of
    the marked models (A, B, the merges on the plane)."""

    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    tasks: list[str]
    points: dict[str, tuple[float, float]]

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for ``np.savez`` (``point_<name>`` holds each marked point)."""
        out = {"x": self.x, "y": self.y, "loss": self.loss, "tasks": np.array(self.tasks)}
        return out | {f"point_{k}": np.array(v) for k, v in self.points.items()}


def _is_coordinate(key: str, value: torch.Tensor) -> bool:
    return value.is_floating_point() and "running_" not in key


@torch.no_grad()
def loss_landscape(
    template: ResNet,
    anchors: dict[str, dict[str, torch.Tensor]],
    extra: dict[str, dict[str, torch.Tensor]],
    tasks: list[MiniTask],
    heads: torch.Tensor,
    calibration: torch.Tensor,
    steps: int,
    margin: float = 0.25,
) -> Landscape:
    """Each task's val loss on a ``steps`` x ``steps`` grid of the plane through the three
    ``anchors`` states (A, B, Z in that order); ``extra`` states are projected onto the
    plane and marked."""
    keys = [k for k, v in anchors["A"].items() if _is_coordinate(k, v)]
    flat = {n: torch.cat([s[k].flatten().double() for k in keys]) for n, s in anchors.items()}
    flat |= {n: torch.cat([s[k].flatten().double() for k in keys]) for n, s in extra.items()}
    origin, (_, b, z) = flat["A"], list(anchors)
    e1 = flat[b] - origin
    e1 /= e1.norm()
    e2 = flat[z] - origin - ((flat[z] - origin) @ e1) * e1
    e2 /= e2.norm()
    points = {n: (float((v - origin) @ e1), float((v - origin) @ e2)) for n, v in flat.items()}
    xs, ys = (np.array([p[i] for p in points.values()]) for i in (0, 1))
    span = [max(np.ptp(c), 1e-6) for c in (xs, ys)]
    x = np.linspace(xs.min() - margin * span[0], xs.max() + margin * span[0], steps)
    y = np.linspace(ys.min() - margin * span[1], ys.max() + margin * span[1], steps)
    loss = np.zeros((len(tasks), steps, steps))
    model = copy.deepcopy(template)
    for i, yi in enumerate(y):
        for j, xj in enumerate(x):
            vector = origin + float(xj) * e1 + float(yi) * e2
            state, offset = dict(template.state_dict()), 0
            for k in keys:
                n = state[k].numel()
                state[k] = vector[offset : offset + n].view_as(state[k]).float()
                offset += n
            model.load_state_dict(state)
            reset_bn(model, calibration)
            for t, task in enumerate(tasks):
                loss[t, i, j] = task_loss(model, heads, task, "val")
    return Landscape(x, y, loss, [t.name for t in tasks], points)
