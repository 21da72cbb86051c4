"""Every setting the regime frontier tried, as one Markdown table (a failed setting is a row).

python benchmarks/frontier_table.py benchmarks/regime_frontier.jsonl > benchmarks/regime_frontier.md
"""

from __future__ import annotations

import json
import sys

import pandas as pd

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


def row(line: dict) -> dict:
    config = line["config"]
    tower = config["tower"]
    out = {
        "variant": line["variant"],
        "seed": line["seed"],
        "device": line.get("device", "-"),
        "pretraining": "world" if config["pretrain"].get("world") else "task slices",
        "tower": f"w{tower['width']} L{tower['layers']} p{tower['patch_size']}",
        "pre steps": config["pretrain"]["steps"],
        "expert lr": config["expert"]["lr"],
        "expert steps": config["expert"]["steps"],
    }
    out |= {label: line["average"].get(key) for key, label in COLUMNS.items()}
    out["TA lambda"] = line.get("scaling", {}).get("task_arithmetic")
    out["tau 2(b)"] = line.get("tau")
    return out


def main() -> None:
    lines = [json.loads(text) for text in open(sys.argv[1]) if text.strip()]
    table = pd.DataFrame([row(line) for line in lines]).astype(object)
    table = table.where(table.notna(), None)
    print(table.to_markdown(index=False, floatfmt="g", missingval="-"))


if __name__ == "__main__":
    main()
