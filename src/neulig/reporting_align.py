"""Alignment's part of the report: the merged pair's accuracy per alignment method, per
experiment (different vs shared initialisation), and MuDSC's accuracy against lambda."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from neulig.reporting import save_figure

BASE = ["experts (unmerged)", "identity", "weight", "activation", "mudsc"]
ORDER = BASE + [f"{m} + NeuLig {k}" for m in BASE[1:] for k in ("merge", "ensemble")]
LABELS = {
    "identity": "no alignment",
    "weight": "weight only",
    "activation": "activation only",
    "mudsc": "MuDSC",
}


def alignment_table(records: pd.DataFrame) -> pd.DataFrame:
    rows = records[(records["kind"] == "align") & (records["method"] != "mudsc (lambda sweep)")]
    rows = rows.drop_duplicates(["experiment", "method", "task"])
    table = rows.pivot_table(index=["experiment", "method"], columns="task", values="accuracy")
    table["Average"] = table.mean(axis=1)
    order = {m: i for i, m in enumerate(ORDER)}
    table = table.sort_index(
        key=lambda idx: idx.map(lambda m: order.get(m, len(order))) if idx.name == "method" else idx
    )
    table = table.rename(index=lambda m: _label(m), level="method")
    return table.round(2)


def _label(method: str) -> str:
    base, plus, rest = method.partition(" + ")
    return LABELS.get(base, base) + plus + rest


def plot_lambda(records: pd.DataFrame, path: Path) -> None:
    sweep = records[records["method"] == "mudsc (lambda sweep)"]
    fig, ax = plt.subplots(figsize=(6, 4))
    if sweep.empty:
        ax.text(0.5, 0.5, "no alignment experiment in this config", ha="center", va="center")
    for experiment, rows in sweep.groupby("experiment") if not sweep.empty else []:
        curve = rows.groupby("lam")["accuracy"].mean()
        ax.plot(curve.index, curve.values, marker="o", label=experiment.replace("_", " "))
    ax.set_xlabel("lambda (weight share of the similarity; 0 = activations only)")
    ax.set_ylabel("merged model, average test accuracy (%)")
    ax.set_title("MuDSC: merged accuracy against lambda")
    if not sweep.empty:
        ax.legend()
    save_figure(fig, path)


def alignment_markdown(table: pd.DataFrame) -> str:
    text = "\n## Alignment (MuDSC) before weight averaging\n\n"
    text += (
        "Two experts, the second aligned onto the first, then averaged. *different init*: "
        "the second expert's vision tower was pretrained from another seed (same frozen "
        "text tower); *shared init*: both come from the shared pretrained tower.\n\n"
    )
    text += table.reset_index().to_markdown(index=False, floatfmt=".2f") + "\n"
    if "different_init" in table.index.get_level_values("experiment"):
        avg = table.loc["different_init", "Average"]
        if "MuDSC" in avg:
            verdicts = [
                f"MuDSC {avg['MuDSC']:.2f} {'>' if avg['MuDSC'] > avg[m] else 'is NOT above'} "
                f"{m} {avg[m]:.2f}"
                for m in ("no alignment", "weight only", "activation only")
                if m in avg
            ]
            text += "\nDifferent init, merged average: " + "; ".join(verdicts) + ".\n"
    return text
