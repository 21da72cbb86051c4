"""The 8-task benchmark profile (config/paper8.yaml): it imports the 8 published experts and plans
every comparison offline, and its workflow shape runs end to end on fixture data."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from neulig.catalogue import PER_TASK_NOTE, merge_methods
from neulig.config import check_config
from neulig.reporting.fidelity import REFERENCES
from neulig.reporting.labels import label

from .fixtures_bench8 import write_dtd, write_eurosat
from .test_paper_profile import smoke_config
from .workflow_helpers import ENV, ROOT, SCHEMA, job_counts, snakemake, workdir_with

PAPER8 = ROOT / "config" / "paper8.yaml"
SMOKE8 = ROOT / ".test" / "paper8-smoke" / "config.yaml"
# the benchmark's tasks and FusionBench's names for their experts
BENCHMARK = {
    "sun397": "sun397",
    "stanford_cars": "stanford-cars",
    "resisc45": "resisc45",
    "eurosat": "eurosat",
    "svhn": "svhn",
    "gtsrb": "gtsrb",
    "mnist": "mnist",
    "dtd": "dtd",
}
OFFLINE = {**ENV, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(PAPER8.read_text())


def test_the_profile_imports_fusionbench_experts_for_the_eight_tasks(config):
    check_config(config, SCHEMA)
    assert list(config["tasks"]) == list(BENCHMARK)  # the benchmark's order
    for task, name in BENCHMARK.items():
        expected = f"tanganke/clip-vit-base-patch32_{name}"
        assert config["tasks"][task]["finetune"] == {"import_from": expected}


def test_every_method_runs_and_every_published_number_has_its_row(config):
    methods = config["merge"]["methods"]
    assert sorted(methods) == sorted(merge_methods())  # every catalogued method
    assert set(config["pairs"]["methods"]) <= set(methods)
    published = [REFERENCES[key] for key in config["report"]["predicts"]]
    assert {"bench8", "fusionbench8"} == {r.key for r in published}
    rows = {label(m) for m in methods} | {label("zero_shot"), label("expert")}
    for reference in published:
        # every published row is one of ours, EMR's per-task models included
        assert set(reference.values) <= rows


def test_plans_eight_imports_and_every_comparison_offline(tmp_path, config):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = snakemake("-n", "--configfile", "config/paper8.yaml", cwd=tmp_path, env=OFFLINE).stdout
    counts = job_counts(out)
    methods, pairs = config["merge"]["methods"], config["pairs"]["methods"]
    twins = [m for m in methods if merge_methods()[m].counterpart]
    per_task = [m for m in methods if merge_methods()[m].per_task]  # TALL, EMR: no checkpoint
    assert counts["download_dataset"] == 8
    assert counts["finetune_expert"] == 8  # one import each
    assert counts["merge_experts"] == len(methods) - len(per_task)  # Table 2, merged
    assert counts["merge_per_task"] == len(per_task) == 2  # Table 2, one model per task
    assert counts["merge_counterpart"] == len(twins)  # Table 2, ensembled
    assert counts["merge_pair"] == 28 * len(pairs)  # Figure 3
    assert counts["train_router"] == 28 + 32 + 32 + 32 + 28 + 8 + 1
    assert counts["report_tables"] == 1
    for method in methods:
        assert f"results/paper8/merge/{method}/vision.json" in out
    assert "reports/paper8/fidelity.json" in out and "reports/paper8/pairs.csv" in out


def tiny_hf_expert(folder, seed: int) -> str:
    """A random transformers CLIP vision model shaped as NeuLig-Tiny-ViT-32, saved to a folder."""
    transformers = pytest.importorskip("transformers")
    import torch

    vision = transformers.CLIPVisionConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=32,
        patch_size=4,
        projection_dim=64,
        hidden_act="quick_gelu",
    )
    torch.manual_seed(seed)
    transformers.CLIPVisionModelWithProjection(vision).save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_paper8_smoke_run(tmp_path):
    """The profile's shape (imports, 18 merges at both levels, 13 pair methods, NeuLig, the
    published references) on two fixture tasks and the tiny ViT."""
    datasets = tmp_path / "datasets"
    write_dtd(datasets / "dtd")
    write_eurosat(datasets / "eurosat")
    config = smoke_config(datasets, PAPER8, SMOKE8)
    for seed, task in enumerate(config["tasks"]):
        folder = tiny_hf_expert(tmp_path / "experts" / task, seed)
        config["tasks"][task]["finetune"] = {"import_from": folder}
    check_config(config, SCHEMA)
    work = workdir_with(tmp_path / "work", config)

    snakemake("--cores", "2", cwd=work, env=OFFLINE)

    reports = work / "reports" / "paper8"
    table = pd.read_csv(reports / "accuracy.csv", index_col=0)
    for method in [*config["merge"]["methods"], "neulig_merge_per_sample", "probabilities"]:
        assert label(method) in table.index
    assert table[["dtd", "eurosat"]].apply(lambda c: c.between(0, 100)).all().all()
    pairs = pd.read_csv(reports / "pairs.csv")  # Figure 3: every pair method, both levels
    assert {label(m) for m in config["pairs"]["methods"]} <= set(pairs["method"])
    assert pairs[["ensemble", "merge"]].notna().all().all()
    fidelity = json.loads((reports / "fidelity.json").read_text())
    assert set(fidelity) == {"bench8", "fusionbench8"}
    markdown = (reports / "accuracy.md").read_text()
    assert "85.90" in markdown and "84.50" in markdown  # TSV-M's and WUDI's published numbers
    assert "88.70" in markdown and PER_TASK_NOTE in markdown  # EMR's, beside its per-task row
    sidecar = json.loads((work / "results/paper8/finetune/dtd/vision.json").read_text())
    assert sidecar["source"]["hf"] == config["tasks"]["dtd"]["finetune"]["import_from"]
