"""Suites: several experiments as Snakemake modules of this workflow in one DAG."""

from __future__ import annotations

import pandas as pd
import pytest

from neulig.errors import ConfigError
from neulig.reporting.sections.table1 import model_counts, table1
from neulig.suite import deep_merge, member_configs

from .workflow_helpers import ROOT, snakemake


def test_deep_merge_overrides_nested_keys_and_null_removes_one():
    base = {
        "model": {"name": "vit", "pretrained": "none"},
        "alignment": {"pair": [1, 2]},
        "seed": 0,
    }
    merged = deep_merge(base, {"model": {"name": "rn"}, "alignment": None, "seed": 3})
    assert merged == {"model": {"name": "rn", "pretrained": "none"}, "seed": 3}
    assert base["model"]["name"] == "vit"  # the base is left alone


def test_members_are_validated_and_need_their_own_experiment():
    suite = {"base": ".test/config/config.yaml", "members": {"a": {}, "b": {"seed": 1}}}
    with pytest.raises(ConfigError, match="own experiment"):
        member_configs(suite, ROOT)
    suite["members"]["a"] = {"experiment": "a", "finetune": {"lr": "fast"}}
    with pytest.raises(ConfigError, match="suite member 'a'.*finetune.lr"):
        member_configs(suite, ROOT)


def test_the_full_profile_plans_every_member_and_the_comparison():
    out = snakemake("-n", "--cores", "2", "--configfile", "config/full.yaml").stdout
    for rule in ("vit_merge_pair", "cnn_train_router", "diverse_align_expert", "suite_report"):
        assert rule in out
    assert out.count("rule vit_download_dataset") == 5  # the members' shared data, built once
    assert "rule cnn_download_dataset" not in out and "rule diverse_download_dataset" not in out


def test_table1_reads_merge_accuracy_and_gap_per_member():
    columns = pd.MultiIndex.from_product([["a", "Average"], ["Mer.", "Ens.", "Gap"]])
    vit = pd.DataFrame([[1, 2, -1, 50, 60, -10]], index=["TIES"], columns=columns)
    cnn = pd.DataFrame([[1, 2, -1, 30, 31, -1]], index=["TIES"], columns=columns)
    table = table1({"ViT": vit, "CNN": cnn})
    assert table.loc["TIES"].tolist() == [50, -10, 30, -1]
    gaps = pd.DataFrame({"n_models": [2, 2, 3], "neulig_ensemble": [80, 90, 70],
                         "neulig_merge_per_sample": [79, 90, 70], "gap": [-1, 0, 0]})  # fmt: skip
    counts = model_counts({"vit": gaps})
    assert counts.loc[2, ("vit", "gap")] == -0.5 and counts.loc[3, ("vit", "merge")] == 70
