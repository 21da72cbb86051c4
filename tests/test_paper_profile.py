"""The paper profile (config/paper.yaml): it plans every stage, and its code path runs end to end
on fixture data in the real on-disk formats with a random ViT-B-32."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from neulig.config import check_config
from neulig.reporting.labels import label

from .fixtures_formats import write_gtsrb, write_mnist
from .test_workflow import STAGES
from .workflow_helpers import ROOT, SCHEMA, job_counts, snakemake, workdir_with

PAPER = ROOT / "config" / "paper.yaml"
SMOKE = ROOT / ".test" / "paper-smoke" / "config.yaml"
PAPER_TASKS = ["gtsrb", "cifar100", "resisc45", "cifar10", "mnist"]


def test_paper_config_is_valid_and_references_known_methods():
    config = yaml.safe_load(PAPER.read_text())
    check_config(config, SCHEMA)
    assert list(config["tasks"]) == PAPER_TASKS  # the paper's order
    assert all(label(m) != m for m in config["report"]["reference"])
    # the original code's recipe (methods.md section 2): experts and router length
    assert config["finetune"]["grad_clip"] == 1.0
    assert config["finetune"]["augment"] == "random_resized_crop"
    neulig = config["neulig"]
    assert (neulig["epochs"], neulig["eval_every"], neulig["eval_shuffle"]) == (1000, 10, True)


def test_paper_profile_plans_every_stage_for_five_tasks(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    # config/config.yaml's tasks must not leak in: --configfile replaces the default config
    out = snakemake("-n", "--configfile", "config/paper.yaml", cwd=tmp_path).stdout
    counts = job_counts(out)
    for rule in STAGES:
        assert counts.get(rule, 0) >= 1, f"{rule} not planned:\n{out[-3000:]}"
    assert counts["download_dataset"] == 5
    assert counts["finetune_expert"] == 5
    assert counts["train_router"] == 26  # C(5,2) + C(5,3) + C(5,4) + C(5,5)
    for task in PAPER_TASKS:
        assert re.search(rf"data/{task}(-[0-9a-f]{{8}})?/meta.json", out)


def smoke_config(datasets: Path, profile: Path = PAPER, smoke: Path = SMOKE) -> dict:
    """A profile (config/paper.yaml) with its smoke overlay applied and fixture roots filled in."""
    config = yaml.safe_load(profile.read_text())
    overlay = yaml.safe_load(smoke.read_text())
    tasks = overlay.pop("tasks")
    config["tasks"] = {
        name: {**config["tasks"][name], **spec, "root": str(datasets / name)}
        for name, spec in tasks.items()
    }
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **copy.deepcopy(value)}
        else:
            config[key] = value
    return config


@pytest.mark.slow
@pytest.mark.parametrize("model", [None, "RN50-quickgelu"], ids=["ViT-B-32", "RN50"])
def test_paper_profile_smoke_run(tmp_path, model):
    """The profile's ViT-B-32, and its RN50 option (BatchNorm buffers in every merge, L_a over
    the whole state dict as the original code)."""
    datasets = tmp_path / "datasets"
    write_gtsrb(datasets / "gtsrb")  # formats whose loaders skip MD5 when the files exist
    write_mnist(datasets / "mnist")
    config = smoke_config(datasets)
    if model is None:
        assert config["model"]["name"].startswith("ViT-B-32")
    else:
        config["model"]["name"] = model
        config["neulig"]["offsets"] = "state"
    check_config(config, SCHEMA)
    assert config["device"] == "cpu"
    work = workdir_with(tmp_path / "work", config)

    snakemake("--cores", "2", cwd=work)

    table = pd.read_csv(work / "reports" / "paper" / "accuracy.csv", index_col=0)
    assert {"gtsrb", "mnist", "Average"} <= set(table.columns)
    for method in (
        "zero_shot",
        "expert",
        "average",
        "task_arithmetic",
        "ties",
        "probabilities",
        "features",
        "neulig_ensemble",
        "neulig_merge_per_sample",
    ):
        assert label(method) in table.index
    accuracies = table[["gtsrb", "mnist"]]
    assert accuracies.apply(lambda c: c.between(0, 100)).all().all()
    markdown = (work / "reports" / "paper" / "accuracy.md").read_text()
    assert "(paper)" in markdown and "95.44" in markdown  # the published numbers beside ours
    pretrained = yaml.safe_load(
        (work / "results" / "paper" / "pretrained" / "vision.json").read_text()
    )
    assert pretrained["architecture"] == config["model"]["name"]
    assert list((work / "data").glob("gtsrb*/meta.json"))
    assert "Nothing to be done" in snakemake("-n", "--cores", "2", cwd=work).stdout
