"""The suite's report: the comparison across its member experiments and where each lives."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from neulig.reporting.sections import seeds, seeds_fidelity
from neulig.reporting.sections.table1 import (
    model_counts,
    model_counts_markdown,
    read_levels,
    table1,
    table1_markdown,
)
from neulig.reporting.tables import write_csv, write_text


def write_suite_report(
    members: list[str],
    reports: list[str],
    accuracies: list[str],
    levels: list[str],
    gaps: list[str],
    params: dict,
    title: str,
    out_table1: str | os.PathLike,
    out_seeds: str | os.PathLike,
    out: str | os.PathLike,
) -> None:
    """``reports``/``accuracies``/``levels``/``gaps``: each member's accuracy.md, accuracy.csv,
    levels.csv and neulig_gap.csv, in ``members`` order; ``params``: ``table1`` (column title
    -> member) and ``replicates`` (member -> its runs over seeds)."""
    levels_of = {m: read_levels(p) for m, p in zip(members, levels, strict=True)}
    gaps_of = {m: pd.read_csv(p) for m, p in zip(members, gaps, strict=True)}
    accuracy_of = {m: pd.read_csv(p) for m, p in zip(members, accuracies, strict=True)}
    table = table1({column: levels_of[m] for column, m in params["table1"].items()})
    write_csv(Path(out_table1), table)
    text = f"# {title}\n\n" + table1_markdown(table)
    text += model_counts_markdown(model_counts(gaps_of)) + _seeds(
        params, (levels_of, gaps_of, accuracy_of), out_seeds
    )
    text += "\n## Every member's report\n\n"
    text += "".join(f"- {m}: `{p}`\n" for m, p in zip(members, reports, strict=True))
    write_text(Path(out), text)


def _seeds(params: dict, tables: tuple[dict, dict, dict], out: str | os.PathLike) -> str:
    """The over-seeds section of every replicated member; per-seed values to ``out``.
    ``tables``: run -> levels table, run -> NeuLig gaps, run -> accuracy table;
    ``params["predicts"]``: member -> the published tables its runs are held against."""
    text, frames = "", []
    levels, _, accuracies = tables
    for member, runs in params.get("replicates", {}).items():
        keys = params.get("predicts", {}).get(member, [])
        rows = {r: seeds_fidelity.run_rows(accuracies[r], levels[r]) for r in runs}
        long = seeds.per_seed(*({r: t[r] for r in runs} for t in tables))
        long = pd.concat([long, seeds_fidelity.tau_rows(rows, keys)], ignore_index=True)
        frames.append(long.assign(member=member))
        text += seeds.seeds_markdown(member, seeds.summary(long))
        text += seeds_fidelity.markdown(member, rows, keys)
    columns = ["member", "run", "quantity", "value"]
    long = pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)
    write_csv(Path(out), long, index=False)
    return text
