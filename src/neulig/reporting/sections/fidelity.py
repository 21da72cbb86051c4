"""How well the run predicts the published tables (``report.predicts``): rows beside the paper's,
Kendall tau and the pairwise orderings (:mod:`neulig.reporting.fidelity`); tau per table goes
to ``fidelity.json``, a DVC metrics file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neulig import io
from neulig.reporting import fidelity, tables
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.sections.levels import levels_table


def write_section(inputs: ReportInputs, out: Path) -> str:
    accuracy = tables.accuracy_table(inputs.records)
    levels = levels_table(pd.concat([inputs.records, inputs.compared], ignore_index=True))
    text, metrics = fidelity.section(inputs.params.get("predicts", []), accuracy, levels)
    io.write_json(out / "fidelity.json", metrics)
    return text
