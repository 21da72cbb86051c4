"""The fidelity section: Kendall tau and the paper's pairwise orderings, from the run's rows."""

from __future__ import annotations

import pandas as pd
import pytest

from neulig.reporting import fidelity
from neulig.reporting.fidelity import TABLE_2A, TABLE_2B


def test_the_papers_own_numbers_give_tau_one():
    ours = pd.Series(TABLE_2B.values)
    assert fidelity.tau(TABLE_2B, ours) == 1.0
    assert fidelity.orderings(TABLE_2B, ours)["holds"].all()


def test_one_swapped_pair_is_named_and_lowers_tau():
    ours = pd.Series(TABLE_2B.values)
    ours["Weight averaging"], ours["Task arithmetic"] = 79.0, 78.0  # turned round
    pairs = fidelity.orderings(TABLE_2B, ours)
    turned = pairs[~pairs["holds"]]
    assert list(zip(turned["better"], turned["worse"], strict=True)) == [
        ("Task arithmetic", "Weight averaging")
    ]
    # 28 pairs, one discordant: tau = (27 - 1) / 28
    assert fidelity.tau(TABLE_2B, ours) == pytest.approx(26 / 28, abs=1e-3)
    assert "Task arithmetic > Weight averaging (-1.00)" in fidelity.fidelity_markdown(
        TABLE_2B, ours
    )


def test_rows_the_run_lacks_are_left_out_of_tau():
    ours = pd.Series(
        {
            "Zero-shot (pretrained)": 40.0,
            "Weight averaging": 35.0,
            "Task arithmetic": 45.0,
            "TIES merging": 30.0,
        }
    )
    # RN50 order: TA > zero-shot > averaging > TIES, reproduced exactly
    assert fidelity.tau(TABLE_2A, ours) == 1.0
    assert fidelity.tau(TABLE_2B, ours.drop("TIES merging")) is None  # two ranked rows only


def test_side_by_side_ranks_only_the_ranked_rows():
    ours = pd.Series(TABLE_2B.values) - 10
    frame = fidelity.side_by_side(TABLE_2B, ours)
    assert frame.loc["NeuLig (semi)", "paper rank"] == 1
    assert pd.isna(frame.loc["Fine-tuned experts (own task)", "paper rank"])
    assert (frame["paper"] - frame["here"]).round(6).eq(10).all()


def test_the_section_ranks_merged_rows_and_reports_tau_as_a_metric():
    accuracy = pd.DataFrame(
        {"Average": [40.0, 90.0, 99.0]},
        index=["Zero-shot (pretrained)", "Fine-tuned experts (own task)", "Weight averaging"],
    )
    merged = {"Weight averaging": 50.0, "Task arithmetic": 55.0, "TIES merging": 53.0}
    levels = pd.DataFrame({("Average", "Mer."): merged, ("Average", "Ens."): merged})
    text, metrics = fidelity.section(["table2b", "table2a"], accuracy, levels)
    # the levels table's merged value wins over the main table's row of the same label
    assert fidelity.run_rows(accuracy, levels)["Weight averaging"] == 50.0
    # 2(b): avg < TA < TIES in the paper; here TIES < TA: 2 of 3 pairs hold
    assert metrics["table2b"] == {
        "tau": pytest.approx(1 / 3, abs=1e-3),
        "orderings_held": 2,
        "orderings": 3,
    }
    # 2(a): TA > zero-shot > avg > TIES; here zero-shot is lowest: TA>avg, TA>TIES hold, ...
    assert metrics["table2a"]["orderings"] == 6
    assert "Table 2(b)" in text and "Turned round here: TIES merging > Task arithmetic" in text
