"""Neural Ligand (NeuLig): the Portland router and its two-term training loss.

Portland turns the T frozen experts' image features of an input into merge coefficients
beta(x) = softmax(W [z_1; ...; z_T] + b). The loss is ``alpha * L_a + beta_b * L_b``:

- L_b: cross-entropy (``supervised``) or entropy (``semi``) of the input's task head applied to
  the coefficient-weighted feature sum_t beta_t z_t (the feature-level, learned ensemble);
- L_a: batch mean of (sum_t beta_t s_t)^2, where s_t is expert t's standardised parameter
  offset, S_t = sum_j (theta_tj - mean_t theta_tj), standardised across experts. It pushes the
  coefficient-weighted offsets to cancel, i.e. the merged weights to stay near the experts' mean.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from neulig.evaluate import accuracy
from neulig.models import Head
from neulig.training import batch_indices, seed_everything

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


class Portland(nn.Module):
    """One linear layer over the concatenated expert features, then a softmax over experts."""

    def __init__(self, n_experts: int, dim: int, normalize: bool = False, temperature: float = 1.0):
        super().__init__()
        self.linear = nn.Linear(n_experts * dim, n_experts)
        self.normalize = normalize
        self.temperature = temperature

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features``: ``[B, T, d]`` -> coefficients ``[B, T]`` summing to 1."""
        if self.normalize:
            features = F.normalize(features, dim=-1)
        return (self.linear(features.flatten(1)) / self.temperature).softmax(dim=-1)


def offset_keys(tower: nn.Module, scope: str) -> list[str]:
    """The state entries L_a's offsets sum: the tower's parameters (``parameters``), or its
    whole state dict (``state``, the original code's flattening), which for ResNets adds the
    BatchNorm running statistics and ``num_batches_tracked`` (each expert's step count)."""
    if scope == "state":
        return sorted(tower.state_dict())
    if scope == "parameters":
        return sorted(name for name, _ in tower.named_parameters())
    raise ValueError(f"offsets must be 'parameters' or 'state', not {scope!r}")


@torch.no_grad()
def parameter_offsets(states: list[StateDict], keys: list[str] | None = None) -> torch.Tensor:
    """s_t: each expert's standardised scalar offset from the experts' mean parameters, summed
    over ``keys`` (every entry of the state dicts when None).

    Computed once per router (the original code re-flattened every checkpoint per batch).
    """
    keys = sorted(keys or states[0])
    totals = torch.stack([sum(sd[k].double().sum() for k in keys) for sd in states])
    offsets = totals - totals.mean()  # sum_j (theta_tj - mean_t theta_tj)
    std = offsets.std(unbiased=True)
    if not torch.isfinite(std) or std == 0:
        return torch.zeros(len(states))
    return ((offsets - offsets.mean()) / std).float()


def alignment_loss(beta: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """L_a = mean over the batch of (sum_t beta_t s_t)^2."""
    return (beta @ offsets.to(beta)).pow(2).mean()


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def entropy_loss(logits: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean prediction entropy, -sum p log(p + 1e-6) (labels unused: the ``semi`` variant)."""
    p = logits.softmax(dim=-1)
    return -(p * (p + 1e-6).log()).sum(dim=-1).mean()


TASK_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "supervised": supervised_loss,
    "semi": entropy_loss,
}


def fuse(beta: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """sum_t beta_t z_t: ``[B, T]`` x ``[B, T, d]`` -> ``[B, d]``."""
    return torch.einsum("bt,btd->bd", beta, features)


@dataclass
class TaskFeatures:
    """The T experts' features of one task's split, ``[N, T, d]``, with labels ``[N]``."""

    features: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device | str) -> TaskFeatures:
        return TaskFeatures(self.features.to(device), self.labels.to(device))


@torch.no_grad()
def ensemble_accuracy(router: Portland, data: dict[str, TaskFeatures], heads: dict[str, Head]):
    """Per-task accuracy of NeuLig's own ensemble, head(sum_t beta_t z_t)."""
    return {
        task: accuracy(heads[task](fuse(router(d.features), d.features)), d.labels)
        for task, d in data.items()
    }


@torch.no_grad()
def selection_scores(router: Portland, val: dict[str, TaskFeatures], heads: dict[str, Head]):
    """Mean over tasks of the ensemble's val accuracy (uses labels) and of its mean prediction
    entropy (label-free: the ``semi`` loss's own quantity, measured on held-out val inputs)."""
    accs = ensemble_accuracy(router, val, heads)
    entropies = [
        entropy_loss(heads[t](fuse(router(d.features), d.features))).item() for t, d in val.items()
    ]
    return {
        "val_accuracy": sum(accs.values()) / len(accs),
        "val_entropy": sum(entropies) / len(entropies),
    }


def router_schedule(train: dict[str, TaskFeatures], params: dict) -> tuple[int, int]:
    """(total steps, steps between val evaluations). With ``epochs`` set, both count the
    original code's epochs of min_t ceil(N_t / batch_size) steps; otherwise ``steps`` and
    ``eval_every`` are steps."""
    if params["epochs"] is None:
        return params["steps"], params["eval_every"]
    per_epoch = min(math.ceil(len(d.labels) / params["batch_size"]) for d in train.values())
    return params["epochs"] * per_epoch, params["eval_every"] * per_epoch


def _to_device(train, val, heads, offsets, device):
    """The router's inputs on ``device``: the paper's 1,000 epochs are millions of small steps,
    so on a GPU nothing should cross the bus per step."""
    train, val = ({t: d.to(device) for t, d in split.items()} for split in (train, val))
    heads = {t: Head(h.weight.to(device), h.scale) for t, h in heads.items()}
    return train, val, heads, offsets.to(device)


def train_router(
    train: dict[str, TaskFeatures],
    val: dict[str, TaskFeatures],
    heads: dict[str, Head],
    offsets: torch.Tensor,
    params: dict,
    device: torch.device | str = "cpu",
) -> tuple[Portland, dict]:
    """Train Portland with Adam on ``device``; the experts are frozen (only cached features are
    seen). Returns the router on the CPU.

    Each step visits every task in turn with one batch of its train split and that task's head,
    and takes one optimiser step per task (as the original code). Every evaluation interval the
    router is scored on the *val* split, not on test as the original code did, and the best one
    by ``select`` is kept: highest NeuLig-ensemble accuracy (``val_accuracy``, uses val labels
    even for the ``semi`` loss) or lowest ensemble prediction entropy (``val_entropy``,
    label-free).
    """
    seed_everything(params["seed"])
    train, val, heads, offsets = _to_device(train, val, heads, offsets, device)
    n_experts, dim = next(iter(train.values())).features.shape[1:]
    router = Portland(n_experts, dim, params["normalize"], params["temperature"]).to(device)
    optimizer = torch.optim.Adam(router.parameters(), lr=params["lr"])
    task_loss = TASK_LOSSES[params["loss"]]
    alpha, beta_b = params["alpha"], params["beta"]
    steps, eval_every = router_schedule(train, params)
    batches = {
        task: batch_indices(len(d.labels), params["batch_size"], steps, params["seed"] + i)
        for i, (task, d) in enumerate(train.items())
    }
    sign = {"val_accuracy": 1.0, "val_entropy": -1.0}[params["select"]]
    best = (-math.inf, None, 0)
    history = []
    for step in tqdm(range(1, steps + 1), desc="router", mininterval=2):
        for task, data in train.items():
            idx = next(batches[task])
            z = data.features[idx]
            beta = router(z)
            logits = heads[task](fuse(beta, z))
            loss = alpha * alignment_loss(beta, offsets) + beta_b * task_loss(
                logits, data.labels[idx]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if step % eval_every == 0 or step == steps:
            scores = selection_scores(router, val, heads)
            acc, ent = round(scores["val_accuracy"], 4), round(scores["val_entropy"], 6)
            history.append({"step": step, "val_accuracy": acc, "val_entropy": ent})
            if sign * scores[params["select"]] > best[0]:  # unrounded: ties as before
                best = (sign * scores[params["select"]], copy.deepcopy(router.state_dict()), step)
                chosen = scores
    router.load_state_dict(best[1])
    router.cpu()
    info = {"best_step": best[2], "steps": steps, "select": params["select"]}
    return router.eval(), {**info, "best_val_accuracy": chosen["val_accuracy"], "history": history}
