"""The NeuLig paper's Figure 3: two experts merged for every pair of tasks; x = the merged
model's average accuracy over the pair's tasks, y = its ensemble's; one marker per method, one
colour per pair, hollow markers for each method's mean over pairs, and the line merge = ensemble.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from neulig.records import NEULIG_ENSEMBLE, neulig_method
from neulig.reporting.figures import save_figure
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.labels import label, per_task_note
from neulig.reporting.tables import write_csv

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
NEULIG = "NeuLig"


def pairs_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, pair): average accuracy over the pair's tasks, merge and ensemble."""
    merges = records[(records["kind"] == "merge") & records["combo"].notna()]
    merges = merges.assign(method=merges["method"].map(label))
    neulig = records[(records["kind"] == "neulig") & (records["n_models"] == 2)]
    level = {neulig_method("per_sample"): "merge", NEULIG_ENSEMBLE: "ensemble"}
    neulig = neulig[neulig["method"].isin(level)]
    neulig = neulig.assign(level=neulig["method"].map(level), method=NEULIG)
    both = pd.concat([merges, neulig]) if not neulig.empty else merges
    if both.empty:
        return pd.DataFrame(columns=["method", "pair", "merge", "ensemble", "gap"])
    table = both.pivot_table(index=["method", "combo"], columns="level", values="accuracy")
    table["gap"] = table["merge"] - table["ensemble"]
    table.index.names = ["method", "pair"]
    return table.reset_index().round(2)


def plot_pairs(table: pd.DataFrame, path: Path) -> None:
    methods, pairs = list(dict.fromkeys(table["method"])), sorted(table["pair"].unique())
    colour = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(pairs)}
    fig, ax = plt.subplots(figsize=(8.5, 6))
    method_handles = []
    for m, method in enumerate(methods):
        rows, marker = table[table["method"] == method], MARKERS[m % len(MARKERS)]
        ax.scatter(rows["merge"], rows["ensemble"], marker=marker, s=36,
                   color=[colour[p] for p in rows["pair"]])  # fmt: skip
        mean = (rows["merge"].mean(), rows["ensemble"].mean())
        hollow = {"facecolors": "none", "edgecolors": "black", "linewidths": 1.5, "s": 150}
        method_handles.append(ax.scatter(*mean, marker=marker, label=method, **hollow))
    values = table[["merge", "ensemble"]]
    low, high = values.min().min() - 3, min(100, values.max().max() + 3)
    (line,) = ax.plot([low, high], [low, high], "--", color="#888888", label="merge = ensemble")
    pair_handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colour[p], label=p) for p in pairs
    ]
    fig.legend(handles=[*method_handles, line], title="method (hollow: mean)",
               fontsize=8, loc="upper left", bbox_to_anchor=(0.99, 0.95))  # fmt: skip
    ax.legend(handles=pair_handles, title="pair", fontsize=7, loc="lower left",
              bbox_to_anchor=(1.01, 0.0))  # fmt: skip
    ax.set_xlabel("merged model: average accuracy over the pair (%)")
    ax.set_ylabel("ensemble: average accuracy over the pair (%)")
    ax.set_title("Merging vs ensembling, two experts for each pair of tasks")
    save_figure(fig, path)


def write_section(inputs: ReportInputs, out: Path) -> str:
    table = pairs_table(inputs.records)
    write_csv(out / "pairs.csv", table, index=False)
    plot_pairs(table, out / "pairs.png")
    if table.empty:
        return ""
    means = table.groupby("method", sort=False)[["merge", "ensemble", "gap"]].mean().round(2)
    text = "\n## Two experts, every pair of tasks (the paper's Figure 3)\n\n"
    text += "Mean over pairs of the average accuracy on the pair's two tasks (`pairs.png`, "
    text += "`pairs.csv` per pair). Merge-only methods are paired with the uniform feature "
    text += "ensemble.\n\n" + means.to_markdown(floatfmt=".2f") + "\n"
    return text + per_task_note(means.index)
