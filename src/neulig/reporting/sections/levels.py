"""Every method at both levels, shaped as the NeuLig paper's Table 2: per task and on average,
the merged model's accuracy (Mer.), the same method at prediction level (Ens.) and the gap.

A merge method's prediction-level counterpart uses the method's own coefficients (see
:mod:`neulig.merging.levels`); its records are ``kind="merge"``, ``level="ensemble"``. NeuLig's
pair is its per-sample merge and its ensemble ``sum_t beta_t z_t`` over every task at once, one
row per router loss. Gap = Mer. - Ens. (the paper prints Ens. - Mer.).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neulig.records import NEULIG_ENSEMBLE, neulig_method
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.labels import label, order, per_task_note
from neulig.reporting.sections.neulig_claims import claims_markdown
from neulig.reporting.tables import write_csv

LEVELS = ("Mer.", "Ens.", "Gap")
PAPER_NOTE = (
    "Table 2 of the paper reports Simple-Averaging, TIES and RegMean as merge only; here every "
    "method with a natural prediction-level counterpart has one (its definition is in the "
    "method's docstring), and the rest show '-' under Ens. and Gap."
)


def _level_frames(records: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Row id -> that row's records with a ``level`` column of Mer./Ens."""
    rows: dict[str, pd.DataFrame] = {}
    merges = records[(records["kind"] == "merge") & records["combo"].isna()]
    for method in order(merges["method"].unique()):
        part = merges[merges["method"] == method]
        rows[label(method)] = part.assign(
            level=part["level"].map({"merge": "Mer.", "ensemble": "Ens."})
        )
    neulig = records[records["kind"] == "neulig"]
    if not neulig.empty:
        neulig = neulig[neulig["n_models"] == neulig["n_models"].max()]
        pair = {neulig_method("per_sample"): "Mer.", NEULIG_ENSEMBLE: "Ens."}
        neulig = neulig[neulig["method"].isin(pair)].assign(level=lambda f: f["method"].map(pair))
        for variant, part in neulig.groupby(neulig["variant"].fillna("supervised")):
            rows[f"NeuLig ({variant})"] = part
    return rows


def levels_table(records: pd.DataFrame) -> pd.DataFrame:
    """Methods x (task, Mer./Ens./Gap), tasks then ``Average``; NaN where a level is absent."""
    blocks = {}
    for row, part in _level_frames(records).items():
        wide = part.pivot_table(index="level", columns="task", values="accuracy")
        wide["Average"] = wide.mean(axis=1)
        wide = wide.reindex(["Mer.", "Ens."])
        wide.loc["Gap"] = wide.loc["Mer."] - wide.loc["Ens."]
        blocks[row] = wide.T.stack(future_stack=True)
    table = pd.DataFrame(blocks).T
    tasks = sorted(t for t in table.columns.get_level_values(0).unique() if t != "Average")
    columns = pd.MultiIndex.from_product([[*tasks, "Average"], LEVELS])
    table = table.reindex(columns=columns).round(2)
    table.index.name = "method"
    return table


def levels_markdown(table: pd.DataFrame) -> str:
    flat = table.astype(object).where(table.notna(), None)  # tabulate prints None as "-"
    flat.columns = [f"{task} {level}" for task, level in table.columns]
    text = "\n## Merging vs ensembling, every method (the paper's Table 2)\n\n"
    text += "Test accuracy (%); Mer. = merged model, Ens. = the same method at prediction level, "
    text += "Gap = Mer. - Ens.\n\n"
    text += flat.to_markdown(floatfmt=".2f", missingval="-") + "\n\n" + PAPER_NOTE + "\n"
    return text + per_task_note(table.index)


def write_section(inputs: ReportInputs, out: Path) -> str:
    table = levels_table(pd.concat([inputs.records, inputs.compared], ignore_index=True))
    write_csv(out / "levels.csv", table)  # declared output: written even when empty
    if table.empty:
        return ""
    return levels_markdown(table) + claims_markdown(table)
