"""Does NeuLig's semi router minimise its own loss? From a finished run's cached expert features,
train the all-task router with the entropy loss under each recipe and compare the train entropy it
reaches with routing every task's inputs to the task's own expert. A router above that entropy
stopped early (a collapse); one below it found a lower-entropy routing than the right one, so the
loss itself points away from the paper's result.

    python benchmarks/semi_router.py --results results/tiny --out benchmarks/semi_router.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from neulig import io
from neulig.evaluate import read_heads
from neulig.ligand.router import ensemble_accuracy, entropy_loss, fuse, train_router
from neulig.ligand.run import stack_features

RECIPES = {  # the offline default's main router, and the paper's (Portland's code)
    "lr 1e-2, temperature 0.5, 200 steps": {"lr": 1e-2, "temperature": 0.5, "steps": 200},
    "lr 1e-3, temperature 1, 600 steps": {"lr": 1e-3, "temperature": 1.0, "steps": 600},
}
BASE = {"loss": "semi", "alpha": 0.01, "beta": 1.0, "batch_size": 128, "epochs": None,
        "eval_every": 25, "select": "val_accuracy", "normalize": False, "seed": 0}  # fmt: skip


@torch.no_grad()
def train_entropy(betas: dict, data: dict, heads: dict) -> dict[str, float]:
    """Mean prediction entropy per task of head(sum_t beta_t z_t) on the train split, for
    ``betas``: task -> ``[N, T]`` coefficients of its train inputs."""
    return {
        t: round(entropy_loss(heads[t](fuse(betas[t], d.features))).item(), 4)
        for t, d in data.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/tiny", help="a finished run's results")
    parser.add_argument("--out", default="benchmarks/semi_router.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(args.results)
    features = sorted((root / "features").glob("expert_*.safetensors"))
    tasks = [p.stem.removeprefix("expert_") for p in features]
    cached = [io.load_tensors(p) for p in features]
    heads = read_heads(root / "pretrained" / "heads.safetensors", tasks)
    split = {s: {t: stack_features(cached, t, s) for t in tasks} for s in ("train", "val", "test")}

    own = {
        t: torch.nn.functional.one_hot(torch.full((len(d.labels),), i), len(tasks)).float()
        for i, (t, d) in enumerate(split["train"].items())
    }
    own_entropy = train_entropy(own, split["train"], heads)
    result = {"results": str(root), "own_expert": {"train_entropy": own_entropy}, "recipes": {}}
    for name, recipe in RECIPES.items():
        offsets = torch.zeros(len(tasks))  # L_a (weight 0.01) needs the checkpoints: left out
        router, _ = train_router(split["train"], split["val"], heads, offsets, {**BASE, **recipe})
        test = ensemble_accuracy(router, split["test"], heads)
        with torch.no_grad():
            routed = {t: router(d.features) for t, d in split["train"].items()}
            mean_beta = {t: router(d.features).mean(0) for t, d in split["test"].items()}
        result["recipes"][name] = {
            "train_entropy": train_entropy(routed, split["train"], heads),
            "test_accuracy": {t: round(a, 2) for t, a in test.items()},
            "average": round(sum(test.values()) / len(test), 2),
            "routed_to": {t: tasks[int(b.argmax())] for t, b in mean_beta.items()},
        }
    for entry in [result["own_expert"], *result["recipes"].values()]:
        entry["train_entropy_sum"] = round(sum(entry["train_entropy"].values()), 4)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
