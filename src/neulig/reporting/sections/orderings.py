"""Which of the NeuLig paper's Table 2 orderings the run reproduces, checked on its numbers.

The paper's ViT-B/32 table has, on the task average: averaging 78.19 < task arithmetic 78.68 <
TIES 80.80 < RegMean 83.16 < AdaMerging 88.65 < WeMoE 89.76 < NeuLig 95.44 (merged), and
NeuLig's merge-ensemble gap (0.02) below every baseline's. Each statement below is marked as
holding or not, with the run's own numbers; a method the run did not include is skipped.
"""

from __future__ import annotations

import pandas as pd

from neulig.catalogue import PER_TASK_MARK

# (better, worse) pairs of row labels on the average merged accuracy, as in the paper.
PAPER_ORDER = (
    ("Task arithmetic", "Weight averaging"),
    ("TIES merging", "Task arithmetic"),
    ("RegMean", "TIES merging"),
    ("AdaMerging (task-wise)", "Task arithmetic"),
    ("AdaMerging (layer-wise)", "Task arithmetic"),
    ("WeMoE", "Task arithmetic"),
    ("WeMoE", "AdaMerging (layer-wise)"),
)
NEULIG_ROWS = ("NeuLig (semi)", "NeuLig (supervised)")


def _verdict(holds: bool) -> str:
    return "holds" if holds else "does not hold"


def order_statements(table: pd.DataFrame) -> list[str]:
    """One line per paper ordering whose two methods are both in ``table`` (the levels table)."""
    merged = table[("Average", "Mer.")]
    lines = []
    for better, worse in PAPER_ORDER:
        if better in merged and worse in merged:
            a, b = merged[better], merged[worse]
            lines.append(f"- {better} > {worse}: {_verdict(a > b)} ({a:.2f} vs {b:.2f})")
    return lines


def gap_statements(table: pd.DataFrame) -> list[str]:
    """NeuLig's |gap| against every baseline that has a prediction-level counterpart, and its
    merged accuracy against every baseline's. Per-task models (TALL, EMR) are not baselines
    here: they know each input's task, which the paper's Table 2 methods and NeuLig do not."""
    table = table.loc[[r for r in table.index if not str(r).endswith(PER_TASK_MARK)]]
    gaps = table[("Average", "Gap")].dropna()
    lines = []
    for row in (r for r in NEULIG_ROWS if r in gaps):
        others = gaps.drop([r for r in NEULIG_ROWS if r in gaps])
        if others.empty:
            continue
        smallest = others.abs().min()
        holds = abs(gaps[row]) < smallest
        lines.append(
            f"- {row}: |gap| {abs(gaps[row]):.2f} below every baseline's "
            f"(smallest {smallest:.2f}, {others.abs().idxmin()}): {_verdict(holds)}"
        )
        merged = table[("Average", "Mer.")].drop(list(NEULIG_ROWS), errors="ignore")
        best = merged.max()
        lines.append(
            f"- {row}: merged accuracy {table.loc[row, ('Average', 'Mer.')]:.2f} above every "
            f"baseline's (best {best:.2f}, {merged.idxmax()}): "
            f"{_verdict(table.loc[row, ('Average', 'Mer.')] > best)}"
        )
    return lines


def orderings_markdown(table: pd.DataFrame) -> str:
    lines = order_statements(table) + gap_statements(table)
    if not lines:
        return ""
    text = "\n### Which of the paper's orderings hold here\n\n"
    text += "On the task average; the paper's ViT-B/32 values are in this module's docstring "
    text += "(`neulig.reporting.sections.orderings`).\n\n"
    return text + "\n".join(lines) + "\n"
