"""Every setting the regime frontier tried, as Markdown tables (a failed setting is a row): each
run, then each variant over its seeds (means, and Kendall tau of the mean ranking).

python benchmarks/frontier_table.py benchmarks/regime_frontier.jsonl > benchmarks/regime_frontier.md
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from regime_frontier import PAPER, TASKS, TEXT
from scipy.stats import kendalltau

COLUMNS = {
    "zero_shot": "zero-shot",
    "experts": "experts",
    "average": "avg",
    "task_arithmetic": "TA",
    "ties": "TIES",
    "regmean": "RegMean",
    "fisher": "Fisher",
    "adamerging_task": "Ada task",
    "adamerging_layer": "Ada layer",
    "wemoe": "WeMoE",
    "neulig_supervised_merge": "NeuLig sup",
    "neulig_semi_merge": "NeuLig semi",
}


def _pretraining(recipe: dict) -> str:
    world = recipe.get("world")
    if not world:
        return "task slices"
    share = float(world.get("task_slices", 0))
    name = f"world {world['n'] / 1000:g}k"
    if share:
        name += f" + {share:.0%} task slices"
    if "stripe_step" in world:
        name += f", stripes {world['stripe_step']} deg"
    if world.get("low_res"):
        name += f", {world['low_res']:.0%} blurry glyphs"
    return name


def row(line: dict) -> dict:
    config = line["config"]
    tower = config["tower"]
    out = {
        "variant": line["variant"],
        "seed": line["seed"],
        "device": line.get("device", "-"),
        "pretraining": _pretraining(config["pretrain"]),
        "tasks": "+".join(config["tasks"]) if "tasks" in config else f"all {len(TASKS)}",
        "tower": f"w{tower['width']} L{tower['layers']} p{tower['patch_size']}",
        # rows written before variants named their text tower had TEXT's
        "embed / text": f"{config['embed_dim']} / w{config.get('text', TEXT)['width']}",
        "pre steps": config["pretrain"]["steps"],
        "expert lr": config["expert"]["lr"],
        "expert steps": config["expert"]["steps"],
        "smoothing": config["expert"].get("label_smoothing", 0),
        "head scale": config.get("logit_scale", "learned"),
        "router": ", ".join(f"{k} {v}" for k, v in config.get("router", {}).items()) or "-",
        "merge recipe": ", ".join(
            f"{m} {k} {v}" for m, hp in config.get("merge", {}).items() for k, v in hp.items()
        )
        or "-",
    }
    out |= {label: line["average"].get(key) for key, label in COLUMNS.items()}
    out["TA lambda"] = line.get("scaling", {}).get("task_arithmetic")
    # rows written before the frontier kept the learned methods' entropy have none
    out["WeMoE entropy"] = line.get("entropy", {}).get("wemoe", {}).get("final")
    out["tau 2(b)"] = line.get("tau")
    return out


def over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """Each (variant, device) with every Table 2(b) row over its seeds: means, per-seed tau
    and the tau of the mean ranking (the issue's criterion)."""
    ranked = ["avg", "TA", "TIES", "RegMean", "Ada layer", "WeMoE", "NeuLig sup", "NeuLig semi"]
    paper = list(PAPER.values())
    rows = []
    for (variant, device), runs in table.sort_values("seed").groupby(
        ["variant", "device"], sort=False
    ):
        if runs[ranked].isna().any().any():
            continue
        means = runs[["zero-shot", "experts", *ranked]].astype(float).mean().round(2)
        tau = kendalltau(means[ranked].tolist(), paper).statistic
        rows.append(
            {"variant": variant, "device": device, "seeds": len(runs), **means.to_dict()}
            | {
                "tau per seed": ", ".join(
                    f"s{s}: {t:g}" for s, t in zip(runs.seed, runs["tau 2(b)"], strict=True)
                )
            }
            | {"tau of mean": round(float(tau), 3)}
        )
    return pd.DataFrame(rows)


def main() -> None:
    lines = [json.loads(text) for text in open(sys.argv[1]) if text.strip()]
    table = pd.DataFrame([row(line) for line in lines]).astype(object)
    table = table.where(table.notna(), None)
    print("## Over seeds\n")
    print(over_seeds(table).to_markdown(index=False, floatfmt="g"))
    print("\n## Every run\n")
    print(table.to_markdown(index=False, floatfmt="g", missingval="-"))


if __name__ == "__main__":
    main()
