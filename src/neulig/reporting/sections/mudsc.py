"""The MuDSC miniature's report (the ``mudsc`` section, an experiment of its own): method x data
set table (mean +- std over seed pairs), DVC's metrics, the lambda sweep, and the multi-task
loss landscape (one panel per task)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neulig import io
from neulig.mudsc_miniature import LABELS, METHODS
from neulig.reporting import tables
from neulig.reporting.figures import save_figure

MARKERS = {"A": "o", "B (aligned)": "s", "MuDSC-Align": "^", "MuDSC-Zip": "*"}


def miniature_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of each method's selected run: mean and std over seed pairs, per data set
    and metric (joint 10-way, per-task average)."""
    picked = rows[(rows["split"] == "test") & rows["selected"]]
    grouped = picked.groupby(["dataset", "method"])[["joint", "per_task"]]
    stats = grouped.agg(["mean", "std"]).round(2)
    stats.columns = [f"{metric} {stat}" for metric, stat in stats.columns]
    stats["pairs"] = grouped.size()
    stats = stats.reset_index()
    stats["order"] = stats["method"].map(METHODS.index)
    stats["method"] = stats["method"].map(LABELS)
    return stats.sort_values(["dataset", "order"]).drop(columns="order")


def plot_sweep(rows: pd.DataFrame, path: Path) -> None:
    """Mean val and test joint accuracy against lambda, per swept method and data set; lambda
    = 0 is the activation-only counterpart (activation align, ZipIt)."""
    at_zero = {"activation": "mudsc_align", "zipit": "mudsc_zip"}
    base = rows[rows["method"].isin(at_zero)].assign(lam=0.0)
    sweep = pd.concat([rows[rows["lam"].notna()], base.replace({"method": at_zero})])
    datasets = sorted(sweep["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        part = sweep[sweep["dataset"] == dataset]
        for i, (method, curves) in enumerate(part.groupby("method")):
            for split, curve in curves.groupby("split"):
                mean = curve.groupby("lam")["joint"].mean()
                style = "-" if split == "test" else ":"
                ax.plot(mean.index, mean.values, marker="o", color=f"C{i}", linestyle=style,
                        label=f"{method} ({split})")  # fmt: skip
        ax.set_xlabel("lambda (weight share of S; 0 = activations only)")
        ax.set_ylabel("joint accuracy (%), mean over seed pairs")
        ax.set_title(dataset)
        ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_landscape(path_npz: str, path: Path) -> None:
    """Contours of each task's val loss on the plane, with the marked models."""
    data = np.load(path_npz)
    tasks = list(data["tasks"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4.2), squeeze=False)
    for t, (ax, task) in enumerate(zip(axes[0], tasks, strict=True)):
        contour = ax.contourf(data["x"], data["y"], np.log(data["loss"][t]), levels=20)
        fig.colorbar(contour, ax=ax, label="log val loss")
        for key in data.files:
            if key.startswith("point_"):
                name = key.removeprefix("point_")
                x, y = data[key]
                ax.plot(x, y, MARKERS.get(name, "x"), color="white", markeredgecolor="black",
                        markersize=10, label=name)  # fmt: skip
        ax.set_title(task)
        ax.set_xlabel("weight-space distance along B - A")
        ax.legend(fontsize=8)
    fig.suptitle("val loss on the plane through A, B aligned onto A, and the MuDSC-Zip merge")
    save_figure(fig, path)


def verdicts(table: pd.DataFrame) -> str:
    """Whether MuDSC-Zip >= ZipIt and MuDSC-Align >= activation >= weight > averaging hold
    (joint accuracy means), per data set."""
    claims = [("MuDSC-Zip", ">=", "ZipIt"), ("MuDSC-Align", ">=", "activation align"),
              ("activation align", ">=", "weight matching (Git Re-Basin)"),
              ("weight matching (Git Re-Basin)", ">", "weight averaging")]  # fmt: skip
    lines = []
    for dataset, part in table.groupby("dataset"):
        acc = part.set_index("method")["joint mean"]
        checks = []
        for left, op, right in claims:
            holds = acc[left] >= acc[right] if op == ">=" else acc[left] > acc[right]
            checks.append(f"{left} {op} {right}: {'yes' if holds else 'NO'}")
        lines.append(f"- {dataset}: " + "; ".join(checks))
    return "\n".join(lines)


def write_section(rows_paths: list[str], landscape_paths: list[str], out_dir: str) -> str:
    """Write ``mudsc.csv``, ``mudsc.md``, ``metrics.json`` (mean joint accuracy per data set
    and method, for DVC), ``mudsc_lambda.png`` and ``mudsc_landscape.png`` (the first landscape
    file: seed pair 0 of the first data set) under ``out_dir``."""
    out = Path(out_dir)
    rows = pd.concat([pd.read_csv(p) for p in rows_paths], ignore_index=True)
    table = miniature_table(rows)
    tables.write_csv(out / "mudsc.csv", table, index=False)
    joint = table.set_index(["dataset", "method"])["joint mean"]
    by_dataset = {d: {m: float(v) for m, v in joint[d].items()} for d in joint.index.levels[0]}
    io.write_json(out / "metrics.json", {"joint_accuracy": by_dataset})
    text = "\n## MuDSC in miniature (ResNet-20, two class-disjoint digit tasks)\n\n"
    text += ("Test accuracy (%) of each merge, mean and std over seed pairs; joint = 10-way "
             "over both tasks, per_task = mean of the two 5-way accuracies. lambda of the "
             "MuDSC rows selected on val.\n\n")  # fmt: skip
    text += table.to_markdown(index=False, floatfmt=".2f") + "\n\n" + verdicts(table) + "\n"
    tables.write_text(out / "mudsc.md", text)
    plot_sweep(rows, out / "mudsc_lambda.png")
    plot_landscape(landscape_paths[0], out / "mudsc_landscape.png")
    return text
