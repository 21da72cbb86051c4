"""The NeuLig paper's Table 1, measured: which methods keep merging as good as ensembling for
ViT experts, CNN experts and experts of diverse origin (no shared pretrained checkpoint).

Each cell is a method's average merged accuracy (Mer.) and its gap to its own prediction-level
counterpart (Gap = Mer. - Ens.), read from each member experiment's levels table.
"""

from __future__ import annotations

import pandas as pd


def read_levels(path: str) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1], index_col=0)


def table1(levels: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Methods x (column, Mer./Gap), from ``{column title: that member's levels table}``."""
    parts = {}
    for column, table in levels.items():
        parts[column] = table["Average"][["Mer.", "Gap"]] if not table.empty else None
    parts = {k: v for k, v in parts.items() if v is not None}
    if not parts:
        return pd.DataFrame()
    merged = pd.concat(parts, axis=1)
    rows = list(dict.fromkeys(m for t in parts.values() for m in t.index))
    return merged.reindex(rows).round(2)


def table1_markdown(table: pd.DataFrame) -> str:
    text = "## Table 1, measured: merge accuracy and its gap to the ensemble, by kind of expert\n\n"
    if table.empty:
        return text + "No member has a levels table.\n"
    flat = table.astype(object).where(table.notna(), None)
    flat.columns = [f"{column} {level}" for column, level in table.columns]
    text += "Average test accuracy (%) of each merge over its experiment's tasks (Mer.) and "
    text += "Gap = Mer. - Ens. (its own prediction-level counterpart; '-' where it has none or "
    text += "the method does not apply to that architecture).\n\n"
    return text + flat.to_markdown(floatfmt=".2f", missingval="-") + "\n"


def model_counts(gaps: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """NeuLig per model count, one column group per member: ensemble, per-sample merge, gap
    (means over the member's combinations of that size), from each member's neulig_gap.csv."""
    parts = {}
    for member, table in gaps.items():
        if table.empty:
            continue
        cols = {"neulig_ensemble": "ensemble", "neulig_merge_per_sample": "merge", "gap": "gap"}
        parts[member] = table.groupby("n_models")[list(cols)].mean().rename(columns=cols)
    return pd.concat(parts, axis=1).round(2) if parts else pd.DataFrame()


def model_counts_markdown(table: pd.DataFrame) -> str:
    text = "\n## NeuLig merge vs ensemble by number of models, every member\n\n"
    if table.empty:
        return text + "No member trained NeuLig routers.\n"
    flat = table.copy()
    flat.columns = [f"{member} {level}" for member, level in table.columns]
    text += "Average test accuracy (%) over each combination's tasks, then over combinations of "
    text += "that size; gap = per-sample merge - NeuLig ensemble.\n\n"
    return text + flat.to_markdown(floatfmt=".2f") + "\n"
