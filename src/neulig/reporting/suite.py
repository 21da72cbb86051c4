"""The suite's report: the comparison across its member experiments and where each lives."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

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
    levels: list[str],
    gaps: list[str],
    columns: dict[str, str],
    title: str,
    out_table1: str | os.PathLike,
    out: str | os.PathLike,
) -> None:
    """``reports``/``levels``/``gaps``: each member's accuracy.md, levels.csv and
    neulig_gap.csv, in ``members`` order;
    ``columns``: Table 1's column title -> member."""
    by_member = dict(zip(members, levels, strict=True))
    table = table1({title_: read_levels(by_member[m]) for title_, m in columns.items()})
    write_csv(Path(out_table1), table)
    counts = model_counts({m: pd.read_csv(p) for m, p in zip(members, gaps, strict=True)})
    text = f"# {title}\n\n" + table1_markdown(table) + model_counts_markdown(counts)
    text += "\n## Every member's report\n\n"
    for member, path in zip(members, reports, strict=True):
        text += f"- {member}: `{path}`\n"
    write_text(Path(out), text)
