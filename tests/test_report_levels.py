"""The Table 2-shaped section: Mer./Ens./Gap per task and on average, one row per method."""

from __future__ import annotations

import math

import pandas as pd

from neulig.records import NEULIG_ENSEMBLE, Record, neulig_method
from neulig.reporting.inputs import ReportInputs
from neulig.reporting.sections.levels import levels_markdown, levels_table


def _frame(rows: list[Record]) -> pd.DataFrame:
    return pd.DataFrame([r.to_dict() for r in rows])


def test_gap_is_merge_minus_ensemble_per_task_and_on_average():
    rows = [
        Record("merge_ta", "task_arithmetic", "merge", "merge", "a", 60.0, 10),
        Record("merge_ta", "task_arithmetic", "merge", "merge", "b", 80.0, 10),
        Record("merge_ta", "task_arithmetic", "merge", "ensemble", "a", 70.0, 10),
        Record("merge_ta", "task_arithmetic", "merge", "ensemble", "b", 90.0, 10),
        Record("merge_ties", "ties", "merge", "merge", "a", 50.0, 10),
        Record("merge_ties", "ties", "merge", "merge", "b", 40.0, 10),
    ]
    for n, combo in ((1, "a"), (2, "a+b")):
        for method, acc in ((neulig_method("per_sample"), 88.0), (NEULIG_ENSEMBLE, 89.0)):
            for task in combo.split("+"):
                rows.append(
                    Record(
                        "neulig",
                        method,
                        "neulig",
                        "merge",
                        task,
                        acc + n,
                        10,
                        combo=combo,
                        n_models=n,
                        variant="semi",
                    )
                )
    table = levels_table(_frame(rows))
    ta = table.loc["Task arithmetic"]
    assert ta[("a", "Gap")] == -10.0 and ta[("Average", "Mer.")] == 70.0
    assert ta[("Average", "Gap")] == -10.0
    ties = table.loc["TIES merging"]
    assert ties[("Average", "Mer.")] == 45.0 and math.isnan(ties[("Average", "Ens.")])
    neulig = table.loc["NeuLig (semi)"]  # only the largest combination counts
    assert neulig[("Average", "Mer.")] == 90.0 and neulig[("Average", "Gap")] == -1.0
    text = levels_markdown(table)
    ties_line = next(line for line in text.splitlines() if line.startswith("| TIES"))
    assert ties_line.split("|")[3].strip() == "-"  # no counterpart: "-" under a Ens.


def test_pairs_table_averages_each_pair_at_both_levels_and_adds_neulig(tmp_path):
    from neulig.reporting.sections.pairs import pairs_table, write_section

    rows = []
    for level, accs in (("merge", (50.0, 70.0)), ("ensemble", (60.0, 90.0))):
        for task, acc in zip(("a", "b"), accs, strict=True):
            rows.append(Record("merge_ties", "ties", "merge", level, task, acc, 10,
                               combo="a+b", n_models=2))  # fmt: skip
    for method, acc in ((neulig_method("per_sample"), 80.0), (NEULIG_ENSEMBLE, 81.0)):
        for task in ("a", "b"):
            rows.append(Record("neulig_a+b", method, "neulig", "merge", task, acc, 10,
                               combo="a+b", n_models=2))  # fmt: skip
    table = pairs_table(_frame(rows)).set_index("method")
    assert table.loc["TIES merging", ["merge", "ensemble", "gap"]].tolist() == [60.0, 75.0, -15.0]
    assert table.loc["NeuLig", "gap"] == -1.0 and table.loc["NeuLig", "pair"] == "a+b"
    inputs = ReportInputs(_frame(rows), _frame([]), [], [], {})
    assert "Figure 3" in write_section(inputs, tmp_path)
    assert (tmp_path / "pairs.png").stat().st_size > 1000


def test_neulig_claims_state_whether_they_hold_with_the_numbers():
    from neulig.reporting.sections.neulig_claims import claims_markdown

    columns = pd.MultiIndex.from_product([["Average"], ["Mer.", "Ens.", "Gap"]])
    table = pd.DataFrame(
        [[50.0, 51.0, -1.0], [55.0, 60.0, -5.0], [58.0, None, None], [80.0, 80.5, -0.5]],
        index=["Weight averaging", "Task arithmetic", "WeMoE", "NeuLig (semi)"],
        columns=columns,
    )
    text = claims_markdown(table)
    assert "|gap| 0.50 below every baseline's (smallest 1.00, Weight averaging): holds" in text
    assert "merged accuracy 80.00 above every baseline's (best 58.00, WeMoE): holds" in text
    assert "Task arithmetic >" not in text  # the methods' own orderings: the fidelity section
    table.loc["NeuLig (semi)", ("Average", "Mer.")] = 57.0
    assert "(best 58.00, WeMoE): does not hold" in claims_markdown(table)
    table.loc["EMR-Merging (per task)"] = [99.0, None, None]  # knows each input's task
    assert "(best 58.00, WeMoE): does not hold" in claims_markdown(table)


def test_a_per_task_method_is_marked_as_using_task_identity_with_no_twin():
    from neulig.catalogue import PER_TASK_NOTE
    from neulig.reporting.tables import accuracy_table, main_markdown

    rows = [
        Record("merge_emr", "emr", "merge", "merge", t, a, 10) for t, a in (("a", 90), ("b", 70))
    ]
    rows += [Record("merge_ties", "ties", "merge", "merge", "a", 50.0, 10)]
    table = levels_table(_frame(rows))
    emr = table.loc["EMR-Merging (per task)"]
    assert emr[("Average", "Mer.")] == 80.0 and math.isnan(emr[("Average", "Ens.")])
    assert PER_TASK_NOTE in levels_markdown(table)
    assert PER_TASK_NOTE in main_markdown(accuracy_table(_frame(rows)), None)
    assert PER_TASK_NOTE not in levels_markdown(levels_table(_frame(rows[2:])))
