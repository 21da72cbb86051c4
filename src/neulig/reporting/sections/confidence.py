"""Whether each expert's confidence tracks its correctness, from the experts' cached features
(:mod:`neulig.reporting.confidence`): why the entropy-trained methods route as they do."""

from __future__ import annotations

from pathlib import Path

from neulig import io
from neulig.evaluate import read_heads
from neulig.reporting.confidence import confidence_markdown, confidence_table
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.tables import write_csv


def write_section(inputs: ReportInputs, out: Path) -> str:
    # features/expert_<task>.safetensors, named by neulig.records.model_name
    cached = {Path(p).stem.partition("_")[2]: io.load_tensors(p) for p in inputs.features}
    heads = read_heads(inputs.heads, list(cached))
    table = confidence_table(cached, heads)
    write_csv(out / "confidence.csv", table.round(4))
    return confidence_markdown(table, heads)
