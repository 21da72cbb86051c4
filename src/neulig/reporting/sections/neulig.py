"""NeuLig's part of the report: merge-vs-ensemble gap per combination, model-count curves and
the router's coefficients per task."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neulig.records import NEULIG_ENSEMBLE, combo_tasks, neulig_method
from neulig.reporting.figures import save_figure
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.tables import write_csv

MERGE = neulig_method("per_sample")
ENSEMBLE = NEULIG_ENSEMBLE

NOTES = """\
## NeuLig: how this project runs it

- **Costs at inference.** Static merges (weight averaging, task arithmetic, TIES, NeuLig per-task
  and global) need one forward pass of one network. NeuLig per-sample and per-batch merging
  first need T expert forward passes to compute beta(x), then the merged network's forward pass.
- **Model selection on val, evaluation on test.** The original code keeps the router with the
  best *test* accuracy and evaluates on held-out *train* images; here the router is selected on
  the val split (NeuLig ensemble accuracy) and every number is on the real test split.
- **L_a** uses each expert's vision-tower parameters only (no text tower, no buffers), and the
  standardised offsets s_t are computed once per router, not per batch.
- **Per-batch merging** is reported twice: with the first sample's beta (the original code's
  rule, which depends on batch order) and with the batch-mean beta.
"""


def gap_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per combination: average accuracy over its tasks per NeuLig method, and the gap."""
    neulig = records[records["kind"] == "neulig"]
    table = neulig.pivot_table(index=["n_models", "combo"], columns="method", values="accuracy")
    table["gap"] = table[MERGE] - table[ENSEMBLE]
    return table.round(3).reset_index().sort_values(["n_models", "combo"])


def gap_summary(gaps: pd.DataFrame) -> pd.DataFrame:
    agg = gaps.groupby("n_models").agg(
        combinations=("combo", "count"),
        ensemble=(ENSEMBLE, "mean"),
        merge_per_sample=(MERGE, "mean"),
        gap_mean=("gap", "mean"),
        abs_gap_mean=("gap", lambda g: g.abs().mean()),
        gap_min=("gap", "min"),
        gap_max=("gap", "max"),
    )
    return agg.round(3)


def plot_model_counts(gaps: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, label, colour in (
        (ENSEMBLE, "NeuLig ensembling", "#31a354"),
        (MERGE, "NeuLig merging (per sample)", "#756bb1"),
    ):
        stats = gaps.groupby("n_models")[method].agg(["mean", "min", "max"])
        ax.plot(stats.index, stats["mean"], marker="o", label=label, color=colour)
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.2, color=colour)
    ax.set_xlabel("number of collaborating models")
    ax.set_ylabel("average test accuracy (%)")
    ax.set_xticks(sorted(gaps["n_models"].unique()))
    ax.legend()
    ax.set_title("Merging vs ensembling (band: min-max over combinations)")
    save_figure(fig, path)


def plot_gaps(gaps: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(gaps)), 4))
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, gaps["n_models"].nunique()))
    by_count = dict(zip(sorted(gaps["n_models"].unique()), colours, strict=True))
    ax.bar(range(len(gaps)), gaps["gap"], color=[by_count[n] for n in gaps["n_models"]])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(gaps)), gaps["combo"], rotation=90, fontsize=6)
    ax.set_ylabel("merge - ensemble (points)")
    ax.set_title("NeuLig merge-ensemble gap per combination (colour: model count)")
    save_figure(fig, path)


def plot_betas(betas: list[dict], path: Path) -> None:
    """Mean beta per (task of the inputs, expert) for the combination of every expert."""
    full = max(betas, key=lambda b: len(b["experts"]))
    experts = full["experts"]
    matrix = np.array([full["mean_beta"][t] for t in experts])
    fig, ax = plt.subplots(figsize=(5, 4))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma")
    ax.set_xticks(range(len(experts)), experts, rotation=45)
    ax.set_yticks(range(len(experts)), experts)
    ax.set_xlabel("expert")
    ax.set_ylabel("task of the test inputs")
    for (i, j), value in np.ndenumerate(matrix):
        colour = "white" if value < 0.5 else "black"
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, label="mean beta")
    ax.set_title("Which expert each task's inputs pick")
    save_figure(fig, path)


def temperature_line(betas: list[dict]) -> str:
    """Which router temperature each combination ran with (chosen on val when a list was
    given); empty for routers written before the temperature was recorded."""
    used = {b["combo"]: b["temperature"] for b in betas if "temperature" in b}
    if not used:
        return ""
    counts = pd.Series(used).value_counts().sort_index()
    if len(counts) == 1:
        return f"Router temperature: {counts.index[0]:g} in every combination.\n\n"
    shares = ", ".join(f"{t:g} in {n} of {len(used)}" for t, n in counts.items())
    largest = max(used, key=lambda combo: len(combo_tasks(combo)))
    return (
        f"Router temperature, chosen on val per combination (the most accurate per-sample "
        f"merge): {shares}; {len(combo_tasks(largest))} models: {used[largest]:g}.\n\n"
    )


def neulig_markdown(gaps: pd.DataFrame, betas: list[dict]) -> str:
    text = "\n## NeuLig merging vs ensembling by number of models\n\n"
    text += "Average over each combination's tasks; gap = per-sample merge - ensemble (points).\n\n"
    text += gap_summary(gaps).to_markdown(floatfmt=".2f") + "\n\n" + temperature_line(betas)
    return text + NOTES


def write_section(inputs: ReportInputs, out: Path) -> str:
    """The gap CSV and the three NeuLig figures; returns the section's Markdown."""
    gaps, betas = gap_table(inputs.records), inputs.betas
    write_csv(out / "neulig_gap.csv", gaps, index=False)
    plot_model_counts(gaps, out / "neulig_model_counts.png")
    plot_gaps(gaps, out / "neulig_gap.png")
    plot_betas(betas, out / "neulig_beta.png")
    return neulig_markdown(gaps, betas)
