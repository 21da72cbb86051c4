"""Suites: several experiments as Snakemake modules of this workflow in one DAG."""

from __future__ import annotations

import shlex
import subprocess

import pandas as pd
import pytest

from neulig.errors import ConfigError
from neulig.reporting.sections.table1 import model_counts, table1
from neulig.suite import deep_merge, member_configs

from .workflow_helpers import ROOT, config_error, layout_copy, snakemake, workdir_with

FULL = ROOT / "config" / "full.yaml"


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


SUITE = {"base": ".test/config/config.yaml", "members": {"a": {"experiment": "a"}}}


@pytest.mark.parametrize(
    ("suite", "needles"),
    [
        ({**SUITE, "seeds": []}, ["config key 'suite.seeds'", "at least one seed"]),
        ({**SUITE, "members": {"a": {"seed": "x"}}}, ["suite member 'a'", "'seed'"]),
        ({**SUITE, "members": {"a": {}, "b": {}}}, ["suite.members", "own experiment name"]),
        ({**SUITE, "base": "nowhere.yaml"}, ["config key 'suite.base'", "nowhere.yaml"]),
    ],
    ids=["empty-seeds", "bad-member-key", "same-experiment", "missing-base"],
)
def test_a_bad_suite_fails_in_one_line(tmp_path, suite, needles):
    line = config_error(workdir_with(tmp_path, {"experiment": "s", "suite": suite}))
    for needle in needles:
        assert needle in line, line


def test_the_full_profile_plans_every_member_and_the_comparison(tmp_path):
    out = snakemake("-n", "--cores", "2", "--configfile", str(FULL), cwd=tmp_path).stdout
    rules = ("vit_merge_pair", "cnn_train_router", "diverse_align_expert", "suite_report")
    for rule in (*rules, "mudsc_mudsc_miniature", "mudsc_report_mudsc"):  # MuDSC's own member
        assert rule in out
    assert out.count("rule vit_download_dataset") == 5  # the members' shared data, built once
    assert "rule cnn_download_dataset" not in out and "rule diverse_download_dataset" not in out


def test_the_full_profile_ranks_each_member_against_its_own_papers_table():
    import yaml

    members = member_configs(yaml.safe_load(FULL.read_text())["suite"], ROOT)
    assert members["vit"]["report"]["predicts"] == ["table2b"]  # the base's, kept
    assert members["cnn"]["report"]["predicts"] == ["table2a"]  # the RN50 table
    assert members["cnn"]["report"]["title"] == members["vit"]["report"]["title"]


def test_the_seeded_profiles_run_each_seed_as_its_own_experiment(tmp_path):
    import yaml

    def members(profile):
        with open(ROOT / profile) as fh:
            return member_configs(yaml.safe_load(fh)["suite"], ROOT)

    seeds = members("config/seeds.yaml")
    assert {m: (c["experiment"], c["seed"]) for m, c in seeds.items()} == {
        "tiny": ("tiny", 0),  # make run's experiment: seed 0 is reused, not rerun
        **{f"tinys{s}": (f"tiny-s{s}", s) for s in range(1, 4)},
    }
    # every seed starts from the shipped world CLIP, as the paper's from OpenAI's weights
    assert {c["model"]["pretrained"] for c in seeds.values()} == {
        "resources/NeuLig-Small-ViT-8-world.safetensors"
    }
    profile = str(ROOT / "config" / "seeds.yaml")
    out = snakemake("-n", "--cores", "2", "--configfile", profile, cwd=tmp_path).stdout
    assert "rule tinys2_finetune_expert" in out and "rule suite_report" in out


def test_the_suite_passes_snakemakes_lint(tmp_path):
    result = snakemake("--lint", "--configfile", str(FULL), cwd=tmp_path, check=False)
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr


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


def test_seeds_replicate_every_member_under_its_own_experiment():
    from neulig.suite import expand_seeds, replicates

    suite = {"members": {"vit": {"experiment": "v", "pairs": {}}}, "seeds": [0, 7]}
    runs = expand_seeds(suite)
    assert runs["vit"] == {"experiment": "v", "seed": 0, "pairs": {}}
    assert runs["vits7"] == {"experiment": "v-s7", "seed": 7, "pairs": {}}
    assert replicates(suite) == {"vit": ["vit", "vits7"]}
    assert replicates({"members": {"vit": {}}}) == {}


def test_over_seeds_mean_sd_and_t_interval():
    from neulig.reporting.sections.seeds import interval, per_seed, summary

    got = interval(pd.Series([1.0, 2.0, 3.0]))
    assert got["mean"] == 2.0 and got["sd"] == 1.0 and got["seeds"] == 3
    assert abs(got["ci95"] - 4.302653 / 3**0.5) < 1e-5  # t_{0.975, 2} * sd / sqrt(n)
    columns = pd.MultiIndex.from_product([["Average"], ["Mer.", "Ens.", "Gap"]])
    levels = {
        f"s{i}": pd.DataFrame([[60.0 + i, 61.0, i - 1.0]], index=["TA"], columns=columns)
        for i in range(3)
    }
    gaps = {f"s{i}": pd.DataFrame({"n_models": [5], "gap": [0.1 * i]}) for i in range(3)}
    accuracies = {
        f"s{i}": pd.DataFrame(
            {
                "method": ["Zero-shot (pretrained)", "TA"],
                "kind": ["zero_shot", "merge"],
                "Average": [50.0 + 2 * i, 0.0],
            }
        )
        for i in range(3)
    }
    table = summary(per_seed(levels, gaps, accuracies))
    assert table.loc["TA: Mer.", "mean"] == 61.0 and table.loc["TA: Gap", "sd"] == 1.0
    assert table.loc["NeuLig gap, 5 models", "mean"] == 0.1
    assert table.loc["Zero-shot (pretrained)", "mean"] == 52.0 and "TA" not in table.index


def test_regime_line_checks_the_papers_vit_ordering_on_the_means():
    from neulig.reporting.sections.seeds import REGIME, regime_line

    rising = pd.DataFrame({"mean": [50.0, 60.0, 61.0, 62.0, 90.0]}, index=list(REGIME))
    assert "ordering on the means holds" in regime_line(rising)
    tie = rising.assign(mean=[50.0, 60.0, 60.0, 62.0, 90.0])  # TA chose averaging's 1/T
    assert "does not hold" in regime_line(tie) and ">= Task arithmetic 60.00" in regime_line(tie)
    assert regime_line(rising.iloc[:3]) == ""


def test_over_seeds_fidelity_gives_tau_per_seed_of_the_mean_and_ordering_intervals():
    from neulig.reporting.fidelity import TABLE_2B
    from neulig.reporting.sections import seeds_fidelity

    paper = [TABLE_2B.values[r] for r in TABLE_2B.ranked]
    columns = pd.MultiIndex.from_product([["Average"], ["Mer.", "Ens.", "Gap"]])
    accuracy = pd.DataFrame({"method": ["Zero-shot (pretrained)"], "kind": ["zero_shot"],
                             "Average": [30.0]})  # fmt: skip

    def run(values):
        levels = pd.DataFrame([[v, v, 0.0] for v in values], TABLE_2B.ranked, columns=columns)
        return seeds_fidelity.run_rows(accuracy, levels)

    swapped = paper[:]  # seed 2 turns averaging and task arithmetic round
    swapped[0], swapped[1] = paper[1] + 0.3, paper[0]
    runs = {"s0": run(paper), "s1": run([v + 1 for v in paper]), "s2": run(swapped)}
    taus = seeds_fidelity.tau_rows(runs, ["table2b"]).set_index("run")["value"]
    assert taus["s0"] == 1.0 and taus["s1"] == 1.0 and taus["s2"] < 1.0
    pairs = seeds_fidelity.orderings_over_seeds(TABLE_2B, runs).set_index(["better", "worse"])
    first = pairs.loc[("Task arithmetic", "Weight averaging")]
    assert first["seeds holding"] == "2/3" and not first["holds over seeds"]
    assert pairs["holds over seeds"].sum() == len(pairs) - 1  # every other margin is steady
    text = seeds_fidelity.markdown("tiny", runs, ["table2b"])
    assert "Kendall tau per seed: s0 1.0, s1 1.0, s2" in text and "27 of 28" in text


def test_make_world_clip_plans_the_worlds_pretraining(tmp_path):
    """`make world-clip`'s Snakemake line, dry-run: its target must not be read as a config."""
    recipe = subprocess.run(
        ["make", "-n", "-o", "setup", "world-clip"], cwd=ROOT, capture_output=True, text=True
    ).stdout.splitlines()
    args = shlex.split(next(line for line in recipe if "snakemake" in line))[1:]
    out = snakemake("-n", *args, cwd=layout_copy(tmp_path / "repo")).stdout
    assert "rule world_pretrain_clip" in out
    assert "results/world/pretrained/vision.safetensors" in out
