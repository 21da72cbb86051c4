"""Alignment's part of the report: the merged pair's accuracy per alignment method, per
setting (different vs shared initialisation), and MuDSC's accuracy against lambda."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from neulig.catalogue import ALIGN_LABELS
from neulig.reporting.figures import save_figure
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.tables import write_csv

SUFFIX = {"average": "", "neulig_merge": " + NeuLig merge", "neulig_ensemble": " + NeuLig ensemble"}
VARIANTS = ["experts", "average", "neulig_merge", "neulig_ensemble"]


def _row_label(method: str, variant: str) -> str:
    if variant == "experts":
        return "experts (unmerged)"
    return ALIGN_LABELS.get(method, method) + SUFFIX[variant]


def alignment_table(records: pd.DataFrame) -> pd.DataFrame:
    """(setting, method) x task accuracy of every alignment variant except the lambda sweep."""
    rows = records[(records["kind"] == "align") & (records["variant"] != "lambda_sweep")].copy()
    methods = list(ALIGN_LABELS)

    def rank(method: str, variant: str) -> tuple:
        # experts first, then every plain average, then the NeuLig variants, method by method
        m = methods.index(method) if method in methods else len(methods)
        return (
            (0, 0, 0)
            if variant == "experts"
            else (min(VARIANTS.index(variant), 2), m, VARIANTS.index(variant))
        )

    rows["rank"] = [rank(m, v) for m, v in zip(rows["method"], rows["variant"], strict=True)]
    rows["row"] = [_row_label(m, v) for m, v in zip(rows["method"], rows["variant"], strict=True)]
    rows = rows.drop_duplicates(["setting", "row", "task"]).sort_values(["setting", "rank"])
    table = rows.pivot_table(
        index=["setting", "row"], columns="task", values="accuracy", sort=False
    )
    table["Average"] = table.mean(axis=1)
    table.index.names = ["experiment", "method"]
    return table.round(2)


def plot_lambda(records: pd.DataFrame, path: Path) -> None:
    sweep = records[records["variant"] == "lambda_sweep"]
    if sweep.empty:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for setting, rows in sweep.groupby("setting"):
        curve = rows.groupby("lam")["accuracy"].mean()
        ax.plot(curve.index, curve.values, marker="o", label=setting.replace("_", " "))
    ax.set_xlabel("lambda (weight share of the similarity; 0 = activations only)")
    ax.set_ylabel("merged model, average test accuracy (%)")
    ax.set_title("MuDSC: merged accuracy against lambda")
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


def write_section(inputs: ReportInputs, out: Path) -> str:
    """The alignment CSV and, with a lambda sweep (``alignment.lam_grid``), its figure;
    returns the section's Markdown."""
    table = alignment_table(inputs.records)
    write_csv(out / "alignment.csv", table)
    plot_lambda(inputs.records, out / "alignment_lambda.png")
    return alignment_markdown(table)
