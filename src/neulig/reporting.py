"""Tables and figures from the long table of evaluation records."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from neulig import io  # noqa: E402

log = logging.getLogger(__name__)

# Display order and names of the table rows, as in the paper's main table.
LABELS = {
    "zero_shot": "Zero-shot (pretrained)",
    "expert": "Fine-tuned experts (own task)",
    "average": "Weight averaging",
    "task_arithmetic": "Task arithmetic",
    "ties": "TIES merging",
    "ensemble_probabilities": "Ensemble (average of probabilities)",
    "ensemble_features": "Ensemble (average of features)",
    "neulig_ensemble": "NeuLig ensembling (sum_t beta_t z_t)",
    "neulig_merge_per_sample": "NeuLig merging, per sample",
    "neulig_merge_batch_first": "NeuLig merging, per batch (first sample's beta)",
    "neulig_merge_batch_mean": "NeuLig merging, per batch (mean beta)",
    "neulig_merge_per_task": "NeuLig merging, per task (static)",
    "neulig_merge_global": "NeuLig merging, global (static)",
}
KIND_COLOURS = {
    "pretrained": "#999999",
    "expert": "#2b8cbe",
    "merge": "#e6550d",
    "ensemble": "#31a354",
    "neulig": "#756bb1",
}


def load_records(paths: list[str | os.PathLike]) -> pd.DataFrame:
    rows = []
    for path in paths:
        rows.extend(io.read_json(path))
    return pd.DataFrame(rows)


def main_records(records: pd.DataFrame) -> pd.DataFrame:
    """Rows of the main table: experts on their own task, NeuLig over all tasks at once."""
    keep = ~records["kind"].isin(["beta", "align"])
    keep &= (records["kind"] != "expert") | (records["model"] == "expert_" + records["task"])
    if "n_models" in records:
        full = records["n_models"].max()
        keep &= (records["kind"] != "neulig") | (records["n_models"] == full)
    return records[keep]


def accuracy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Methods x tasks (+ Average), like the paper's main table."""
    records = main_records(records)
    table = records.pivot_table(index="method", columns="task", values="accuracy")
    table["Average"] = table.mean(axis=1)
    order = [m for m in LABELS if m in table.index] + sorted(set(table.index) - set(LABELS))
    table = table.loc[order]
    kinds = records.drop_duplicates("method").set_index("method")["kind"]
    table.insert(0, "kind", kinds.reindex(table.index).values)
    table.index = [LABELS.get(m, m) for m in table.index]
    table.index.name = "method"
    return table.round(2)


def reference_table(reference: dict, columns: list[str]) -> pd.DataFrame:
    """The published numbers as rows ``<label> (paper)``, aligned with the reproduced table."""
    order = [m for m in LABELS if m in reference] + [m for m in reference if m not in LABELS]
    rows = {f"{LABELS.get(m, m)} (paper)": reference[m] for m in order}
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    return table.dropna(axis=1, how="all")


def plot_by_task(table: pd.DataFrame, path: Path) -> None:
    data = table.drop(columns=["kind", "Average"])
    ax = data.T.plot.bar(figsize=(11, 4.5), width=0.85, colormap="tab10")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlabel("")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
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
    ax.set_title("Merged models vs ensembles vs experts")
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_markdown(table: pd.DataFrame, path: Path, title: str, extra: str = "") -> None:
    text = f"# {title}\n\nTest accuracy (%) per task; one row per method.\n\n"
    text += table.to_markdown(floatfmt=".2f") + "\n" + extra
    with io.atomic_path(path) as tmp:
        tmp.write_text(text)


def write_report(record_paths: list[str], out_dir: str | os.PathLike, params: dict) -> None:
    out = Path(out_dir)
    records = load_records(record_paths)
    table = accuracy_table(records)
    with io.atomic_path(out / "accuracy.csv") as tmp:
        table.to_csv(tmp)
    extra = ""
    if (records["kind"] == "neulig").any():
        from neulig import reporting_neulig as nl

        gaps = nl.gap_table(records)
        with io.atomic_path(out / "neulig_gap.csv") as tmp:
            gaps.to_csv(tmp, index=False)
        nl.plot_model_counts(gaps, out / "neulig_model_counts.png")
        nl.plot_gaps(gaps, out / "neulig_gap.png")
        nl.plot_betas(records, out / "neulig_beta.png")
        extra = nl.neulig_markdown(gaps)
    # The rule declares these outputs whatever the config; without an alignment experiment
    # they say so instead of being missing.
    from neulig import reporting_align as al

    has_align = (records["kind"] == "align").any()
    aligned = al.alignment_table(records) if has_align else pd.DataFrame()
    with io.atomic_path(out / "alignment.csv") as tmp:
        aligned.to_csv(tmp)
    al.plot_lambda(records, out / "alignment_lambda.png")
    if has_align:
        extra += al.alignment_markdown(aligned)
    if params.get("reference"):
        published = reference_table(params["reference"], [c for c in table if c != "kind"])
        extra = (
            "\n## Published numbers (the paper), for comparison\n\n"
            + published.to_markdown(floatfmt=".2f")
            + "\n"
            + extra
        )
    write_markdown(table, out / "accuracy.md", params.get("title", "Results"), extra)
    plot_by_task(table, out / "accuracy_by_task.png")
    plot_summary(table, out / "merge_vs_ensemble.png")
    log.info("report:\n%s", json.dumps(table["Average"].to_dict(), indent=1))
