"""The main table (every method's test accuracy per task), its figures and DVC's metrics."""

from __future__ import annotations

from pathlib import Path

from neulig.reporting import metrics, tables
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.sections.neulig import gap_table


def write_section(inputs: ReportInputs, out: Path) -> str:
    records = inputs.records
    table = tables.accuracy_table(records)
    tables.write_csv(out / "accuracy.csv", table)
    gaps = gap_table(records) if (records["kind"] == "neulig").any() else None
    metrics.write_metrics(out, metrics.headline(records, gaps), table, gaps)
    tables.plot_by_task(table, out / "accuracy_by_task.png")
    tables.plot_summary(table, out / "merge_vs_ensemble.png")
    return tables.main_markdown(table, inputs.params.get("reference"))
