"""The main table: every method's test accuracy per task, as the paper's main table."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from neulig import io
from neulig.records import COLUMNS, read_records
from neulig.reporting.figures import KIND_COLOURS, save_figure
from neulig.reporting.labels import label, order, per_task_note


def load_records(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Every records file as one long table (one row per :class:`~neulig.records.Record`)."""
    rows = [r.to_dict() for path in paths for r in read_records(path)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"n_models": "Int64"})  # stays integer beside rows without a count


def main_records(records: pd.DataFrame) -> pd.DataFrame:
    """Rows of the main table: experts on their own task, NeuLig over all tasks at once, merges
    at parameter level (their prediction-level counterparts are in the levels section)."""
    keep = records["kind"] != "align"
    keep &= (records["kind"] != "merge") | (records["level"] == "merge")
    keep &= (records["kind"] != "merge") | records["combo"].isna()  # Figure 3's pair merges
    keep &= (records["kind"] != "expert") | (records["model"] == "expert_" + records["task"])
    full = records.loc[records["kind"] == "neulig", "n_models"].max()
    keep &= (records["kind"] != "neulig") | (records["n_models"] == full)
    return records[keep]


def accuracy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Methods x tasks (+ Average), with each method's kind; rows in the paper's order."""
    records = main_records(records)
    table = records.pivot_table(index="method", columns="task", values="accuracy")
    table["Average"] = table.mean(axis=1)
    table = table.loc[order(table.index)]
    kinds = records.drop_duplicates("method").set_index("method")["kind"]
    table.insert(0, "kind", kinds.reindex(table.index).values)
    table.index = [label(m) for m in table.index]
    table.index.name = "method"
    return table.round(2)


def reference_table(reference: dict, columns: list[str]) -> pd.DataFrame:
    """The published numbers as rows ``<label> (paper)``, aligned with the reproduced table."""
    rows = {f"{label(m)} (paper)": reference[m] for m in order(reference)}
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    return table.dropna(axis=1, how="all")


def plot_by_task(table: pd.DataFrame, path: Path) -> None:
    data = table.drop(columns=["kind", "Average"])
    ax = data.T.plot.bar(figsize=(11, 4.5), width=0.85, colormap="tab20")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlabel("")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Accuracy per task")
    plt.xticks(rotation=0)
    save_figure(ax.figure, path)


def plot_summary(table: pd.DataFrame, path: Path) -> None:
    avg = table["Average"]
    colours = [KIND_COLOURS.get(k, "#636363") for k in table["kind"]]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(avg) + 1.2))
    ax.barh(avg.index[::-1], avg.values[::-1], color=colours[::-1])
    for y, value in enumerate(avg.values[::-1]):
        ax.text(value + 0.5, y, f"{value:.1f}", va="center", fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("average test accuracy over tasks (%)")
    ax.set_title("Merged models vs ensembles vs experts (colour: kind)")
    save_figure(fig, path)


def main_markdown(table: pd.DataFrame, reference: dict | None) -> str:
    text = "Test accuracy (%) per task; one row per method.\n\n"
    text += table.to_markdown(floatfmt=".2f") + "\n" + per_task_note(table.index)
    if reference:
        published = reference_table(reference, [c for c in table if c != "kind"])
        text += "\n## Published numbers (the paper), for comparison\n\n"
        text += published.to_markdown(floatfmt=".2f") + "\n"
    return text


def write_text(path: Path, text: str) -> None:
    with io.atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: Path, frame: pd.DataFrame, index: bool = True) -> None:
    with io.atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index)
