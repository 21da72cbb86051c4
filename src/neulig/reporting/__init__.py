"""The report: tables, figures and DVC metrics from every records file and diagnostic.

One module per section under :mod:`neulig.reporting.sections`; each reads the long records
table (and its own diagnostics) and returns Markdown, writing its CSVs and figures.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from neulig import io
from neulig.reporting import fidelity, metrics, tables
from neulig.reporting.sections import alignment, levels, neulig, pairs, selection

log = logging.getLogger(__name__)


def write_report(
    record_paths: list[str],
    betas_paths: list[str],
    merge_info_paths: list[str],
    out_dir: str | os.PathLike,
    params: dict,
    compared_paths: list[str] = (),
) -> None:
    """``compared_paths``: records of routers with other losses, for the levels table only."""
    out = Path(out_dir)
    records = tables.load_records(record_paths)
    table = tables.accuracy_table(records)
    tables.write_csv(out / "accuracy.csv", table)
    text = tables.main_markdown(table, params.get("reference"))
    compared = tables.load_records(compared_paths) if compared_paths else records.iloc[:0]
    both = pd.concat([records, compared], ignore_index=True)
    text += levels.write_section(both, out)
    predicts, fidelity_metrics = fidelity.section(
        params.get("predicts", []), table, levels.levels_table(both)
    )
    text += predicts
    text += pairs.write_section(records, out)
    gaps = None
    if (records["kind"] == "neulig").any():
        gaps = neulig.gap_table(records)
        text += neulig.write_section(gaps, [io.read_json(p) for p in betas_paths], out)
    text += selection.selection_markdown([io.read_json(p) for p in merge_info_paths])
    text += alignment.write_section(records, out)
    headline = metrics.headline(records, gaps) | {"fidelity": fidelity_metrics}
    metrics.write_metrics(out, headline, table, gaps)
    tables.write_text(out / "accuracy.md", f"# {params.get('title', 'Results')}\n\n{text}")
    tables.plot_by_task(table, out / "accuracy_by_task.png")
    tables.plot_summary(table, out / "merge_vs_ensemble.png")
    log.info("report written to %s", out)
