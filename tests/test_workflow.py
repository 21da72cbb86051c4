"""The Snakemake workflow: config validation, registries vs schema, lint, and the tiny run."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from neulig.align import ALIGN_METHODS
from neulig.catalogue import ALIGN_LABELS, ENSEMBLE_LABELS, PER_TASK_NOTE, ROUTER_LOSSES
from neulig.config import _schema
from neulig.data.sources import SOURCES
from neulig.ensemble import ENSEMBLE_METHODS
from neulig.ligand import TASK_LOSSES

from .workflow_helpers import (
    ROOT,
    SCHEMA,
    TEST_CONFIG,
    config_error,
    snakemake,
    unrequested_outputs,
    workdir_with,
)

STAGES = (
    "download_dataset",
    "pretrain_clip",
    "finetune_expert",
    "merge_experts",
    "ensemble_experts",
    "evaluate_model",
    "train_router",
    "report_tables",
)


def test_the_torch_registries_attach_a_callable_to_every_catalogued_name():
    for names, registry in (
        (ENSEMBLE_LABELS, ENSEMBLE_METHODS),
        (ROUTER_LOSSES, TASK_LOSSES),
        (ALIGN_LABELS, ALIGN_METHODS),
    ):
        assert set(names) == set(registry)
    schema = _schema(str(SCHEMA))["properties"]
    assert schema["neulig"]["properties"]["loss"]["enum"] == list(ROUTER_LOSSES)
    sources = schema["tasks"]["additionalProperties"]["properties"]["source"]["enum"]
    assert set(sources) == set(SOURCES)  # data sources: still listed in the schema


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["finetune"].update(lr="fast"), "lr"),
        (lambda c: c["merge"].update(methods=["average", "magic"]), "magic"),
        (lambda c: c["merge"].update(magic={"hparams": {}}), "magic"),
        (lambda c: c["tasks"]["digits"].update(source="floppy"), "floppy"),
        (lambda c: c.update(finetuen={}), "finetuen"),
        (lambda c: c["neulig"].update(loss="hinge"), "hinge"),
        (lambda c: c.update(experiment="two words"), "experiment"),
        (lambda c: c.update(tasks={"digits": c["tasks"]["digits"]}), "at least two tasks"),
        (lambda c: c.update(experts={"origin": "diverse", "reference": "nope"}), "'nope'"),
    ],
)
def test_bad_config_fails_before_any_job_in_one_line_naming_the_key(tmp_path, edit, key):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    edit(config)
    line = config_error(workdir_with(tmp_path, config))
    assert line.startswith("config key '") and key in line, line
    assert not (tmp_path / "data").exists()


def test_default_config_plans_every_stage(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = snakemake("-n", "--cores", "2", cwd=tmp_path).stdout
    for rule in (*STAGES, "pretrain_vision_seed", "align_experts"):
        assert rule in out
    assert "results/tiny/" in out and "reports/tiny/accuracy.md" in out


@pytest.mark.parametrize("profile", [TEST_CONFIG, ROOT / ".test" / "suite" / "config.yaml"])
def test_the_default_target_asks_for_every_file_a_run_writes(tmp_path, profile):
    # Snakemake rebuilds a missing file only when a job that must run asks for it: anything
    # else a killed job or a user deleting a corrupt file removes stays lost while the files
    # made from it exist, and DVC records the gap
    out = snakemake("-n", "--cores", "2", "--configfile", str(profile), cwd=tmp_path).stdout
    assert "rule train_router:" in out or "rule vit_train_router:" in out
    assert unrequested_outputs(out) == []


def test_lint_is_clean(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    result = snakemake("--lint", cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_tiny_workflow_runs_end_to_end(tiny_run):  # the one full run `make test` keeps
    reports = tiny_run / "reports" / "ci"
    table = pd.read_csv(reports / "accuracy.csv", index_col=0)
    tasks = ["digits", "gratings", "shapes"]
    assert set(tasks) <= set(table.columns)
    for row in (
        "Zero-shot (pretrained)",
        "Fine-tuned experts (own task)",
        "Weight averaging",
        "Task arithmetic",
        "TIES merging",
        "EMR-Merging (per task)",
        "TALL masks (per task)",
        "Ensemble (average of features)",
        "NeuLig merging, per sample",
        "NeuLig ensembling (sum_t beta_t z_t)",
    ):
        assert row in table.index
    assert table[tasks].apply(lambda c: c.between(0, 100)).all().all()
    # the table's cells are rounded: their mean may differ from the Average in the last digit
    assert (table["Average"] - table[tasks].mean(axis=1)).abs().max() < 0.01
    levels = pd.read_csv(reports / "levels.csv", header=[0, 1], index_col=0)
    assert list(levels.index) == [
        "Weight averaging",
        "Task arithmetic",
        "TIES merging",
        "RegMean",
        "AdaMerging (task-wise)",
        "WeMoE",
        "EMR-Merging (per task)",  # one model per task, merge level only
        "TALL masks (per task)",
        "NeuLig (semi)",
        "NeuLig (supervised)",
    ]
    gap = levels[("Average", "Mer.")] - levels[("Average", "Ens.")]
    assert (gap - levels[("Average", "Gap")]).abs().max() < 0.02
    assert (
        levels.loc["TIES merging", ("Average", "Ens.")]
        != levels.loc["TIES merging", ("Average", "Ens.")]
    )
    assert (
        levels.loc["TALL masks (per task)", ("Average", "Ens.")]
        != levels.loc["TALL masks (per task)", ("Average", "Ens.")]
    )  # NaN: no twin
    assert PER_TASK_NOTE in (reports / "accuracy.md").read_text()
    pairs = pd.read_csv(reports / "pairs.csv")  # Figure 3: TIES and NeuLig on the 3 pairs
    assert sorted(pairs["method"].unique()) == ["NeuLig", "TIES merging"] and len(pairs) == 6
    aligned = pd.read_csv(reports / "alignment.csv")
    assert set(aligned["experiment"]) == {"different_init", "shared_init"}
    assert {"MuDSC", "no alignment", "MuDSC + NeuLig merge"} <= set(aligned["method"])
    gaps = pd.read_csv(reports / "neulig_gap.csv")
    assert sorted(gaps["n_models"].unique()) == [2, 3] and len(gaps) == 4
    for figure in ("accuracy_by_task.png", "merge_vs_ensemble.png", "neulig_beta.png", "pairs.png"):
        assert (reports / figure).stat().st_size > 1000
    assert list((tiny_run / "benchmarks" / "rules" / "ci").rglob("*.tsv"))
    assert list((tiny_run / "logs" / "ci").rglob("*.log"))
    assert "Nothing to be done" in snakemake("-n", "--cores", "2", cwd=tiny_run).stdout


@pytest.mark.slow
def test_same_config_and_seed_give_the_same_metrics(tiny_run, tmp_path):
    work = tmp_path / "again"
    shutil.copytree(tiny_run, work, symlinks=True)
    shutil.rmtree(work / "results")
    snakemake("--cores", "2", cwd=work)
    for name in (
        "accuracy.csv",
        "metrics.json",
        "neulig_gap.csv",
        "alignment.csv",
        "fidelity.json",
        "confidence.csv",
    ):
        first = (tiny_run / "reports" / "ci" / name).read_text()
        assert (work / "reports" / "ci" / name).read_text() == first, name
    snakemake("--report", str(work / "report.html"), cwd=work)
    assert "Merged" in (work / "report.html").read_text()


def test_reports_folder_ships_with_a_readme():
    assert "snakemake --report" in (ROOT / "reports" / "README.md").read_text()
