"""Headline numbers and plot data in files DVC reads (``dvc metrics`` / ``dvc plots``).

Each experiment's ``dvc/<experiment>/dvc.yaml`` declares them (no DVC stages: Snakemake
orchestrates), written by the workflow from the report's sections
(:func:`neulig.report_sections.dvc_declarations`); committed beside the run's DVC pointers, it
lets ``dvc metrics diff`` and ``dvc plots diff`` compare two commits' runs. It sits outside
``reports/<experiment>/``: DVC reads no ``dvc.yaml`` that git ignores or that a DVC output holds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from neulig import io
from neulig.reporting.tables import main_records, write_csv


def headline(records: pd.DataFrame, gaps: pd.DataFrame | None) -> dict:
    """Average accuracy per method id, and NeuLig's merge - ensemble gap per model count."""
    main = main_records(records)
    # ensemble ids ("features") are prefixed so that every key reads on its own
    key = main["method"].where(main["kind"] != "ensemble", "ensemble_" + main["method"])
    per_task = main.assign(key=key).groupby(["key", "task"])["accuracy"].mean()
    averages = per_task.groupby("key").mean()
    metrics = {"average_accuracy": {m: round(float(v), 2) for m, v in averages.items()}}
    if gaps is not None and not gaps.empty:
        by_count = gaps.groupby("n_models")["gap"].mean()
        metrics["neulig_gap"] = {
            f"{int(n)}_models": round(float(g), 3) for n, g in by_count.items()
        }
    return metrics


def write_metrics(out: Path, metrics: dict, table: pd.DataFrame, gaps: pd.DataFrame | None) -> None:
    io.write_json(out / "metrics.json", metrics)
    averages = table["Average"].rename("accuracy").rename_axis("method").reset_index()
    write_csv(out / "plots" / "average_accuracy.csv", averages, index=False)
    gap_rows = pd.DataFrame(columns=["n_models", "gap"])
    if gaps is not None and not gaps.empty:
        gap_rows = gaps.groupby("n_models")["gap"].mean().round(3).reset_index()
    write_csv(out / "plots" / "neulig_gap.csv", gap_rows, index=False)


def write_dvc_yaml(path: str, declarations: dict) -> None:
    """An experiment's ``dvc.yaml``: its metrics and plots, under a line that says where it
    comes from."""
    header = (
        "# Written by the workflow (rule dvc_declarations) from the report's sections\n"
        "# (neulig.report_sections); commit it with the run's DVC pointers.\n"
    )
    with io.atomic_path(path) as tmp:
        tmp.write_text(header + yaml.safe_dump(declarations, sort_keys=False))
