"""The Snakemake workflow: config validation, planning, lint, and a full tiny run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from neulig.data.sources import SOURCES
from neulig.ensemble import ENSEMBLE_METHODS
from neulig.merging import MERGE_METHODS

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / ".test" / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def snakemake(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def workdir_with(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_schema_enums_match_the_registries():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert set(schema["merge"]["properties"]["methods"]["items"]["enum"]) == set(MERGE_METHODS)
    assert set(schema["ensemble"]["properties"]["methods"]["items"]["enum"]) == set(
        ENSEMBLE_METHODS
    )
    task = schema["tasks"]["additionalProperties"]["properties"]
    assert set(task["source"]["enum"]) == set(SOURCES)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["finetune"].update(lr="fast"), "lr"),
        (lambda c: c["merge"].update(methods=["average", "magic"]), "magic"),
        (lambda c: c["tasks"]["digits"].update(source="floppy"), "floppy"),
        (lambda c: c.update(finetuen={}), "finetuen"),
        (lambda c: c["neulig"].update(loss="hinge"), "hinge"),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, edit, key):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    edit(config)
    result = snakemake("-n", "--cores", "1", cwd=workdir_with(tmp_path, config), check=False)
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()


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


def test_default_config_plans_every_stage():
    out = snakemake("-n", "--cores", "2", "--forceall").stdout
    for rule in (*STAGES, "pretrain_vision_seed", "align_experts"):
        assert rule in out


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.mark.slow
def test_tiny_workflow_runs_end_to_end(tmp_path):
    work = workdir_with(tmp_path, yaml.safe_load(TEST_CONFIG.read_text()))
    snakemake("--cores", "2", cwd=work)
    table = pd.read_csv(work / "reports" / "accuracy.csv", index_col=0)
    tasks = ["digits", "gratings", "shapes"]
    assert set(tasks) <= set(table.columns)
    for row in (
        "Zero-shot (pretrained)",
        "Fine-tuned experts (own task)",
        "Weight averaging",
        "Task arithmetic",
        "TIES merging",
        "Ensemble (average of features)",
        "NeuLig merging, per sample",
        "NeuLig ensembling (sum_t beta_t z_t)",
    ):
        assert row in table.index
    assert table[tasks].apply(lambda c: c.between(0, 100)).all().all()
    assert table["Average"].round(2).equals(table[tasks].mean(axis=1).round(2))
    aligned = pd.read_csv(work / "reports" / "alignment.csv")
    assert set(aligned["experiment"]) == {"different_init", "shared_init"}
    assert {"MuDSC", "no alignment", "MuDSC + NeuLig merge"} <= set(aligned["method"])
    gaps = pd.read_csv(work / "reports" / "neulig_gap.csv")
    assert sorted(gaps["n_models"].unique()) == [2, 3] and len(gaps) == 4
    for figure in ("accuracy_by_task.png", "merge_vs_ensemble.png", "neulig_beta.png"):
        assert (work / "reports" / figure).stat().st_size > 1000
    assert all(len(list((work / "benchmarks" / "rules").rglob("*.tsv"))) for _ in [0])
    dry = snakemake("-n", "--cores", "2", cwd=work).stdout
    assert "Nothing to be done" in dry
    # Same config and seed: a forced rerun of the whole DAG gives identical metrics.
    first = (work / "reports" / "accuracy.csv").read_text()
    shutil.rmtree(work / "results")
    snakemake("--cores", "2", cwd=work)
    assert (work / "reports" / "accuracy.csv").read_text() == first
    snakemake("--report", str(work / "reports" / "report.html"), cwd=work)
    assert "Merged" in (work / "reports" / "report.html").read_text()
