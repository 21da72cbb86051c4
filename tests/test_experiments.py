"""Named experiments: two configs run in one checkout without touching each other's outputs,
and share the data they have in common."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
import yaml

from .workflow_helpers import TEST_CONFIG, planned_jobs, snakemake, snakemake_started, workdir_with

pytestmark = pytest.mark.slow


def second_experiment() -> dict:
    """A smaller variant of the test config: two of its tasks (same data), another router."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["experiment"] = "ci_variant"
    config["tasks"] = {t: config["tasks"][t] for t in ("digits", "shapes")}
    config["merge"] = {"methods": ["average"]}
    config["ensemble"] = {"methods": ["features"]}
    config["neulig"]["alpha"] = 0.1
    del config["alignment"]
    return config


def test_two_experiments_side_by_side(tiny_run, tmp_path):
    work = tmp_path / "both"
    shutil.copytree(tiny_run, work, symlinks=True)
    (work / "config" / "variant.yaml").write_text(yaml.safe_dump(second_experiment()))
    variant = ("--configfile", "config/variant.yaml")
    jobs = planned_jobs(work, *variant)
    assert "download_dataset" not in jobs  # digits and shapes are already built
    assert jobs["finetune_expert"] == 2 and jobs["train_router"] == 1
    first = {p: p.stat().st_mtime_ns for p in (work / "results" / "ci").rglob("*")}
    snakemake("--cores", "2", *variant, cwd=work)
    assert {p: p.stat().st_mtime_ns for p in (work / "results" / "ci").rglob("*")} == first
    assert (work / "reports" / "ci_variant" / "accuracy.csv").exists()
    assert (work / "results" / "ci_variant" / "neulig" / "digits+shapes" / "records.json").exists()
    assert planned_jobs(work) == {} and planned_jobs(work, *variant) == {}


def test_a_second_experiment_beside_one_building_the_data_says_what_to_do(tmp_path):
    work = workdir_with(tmp_path, yaml.safe_load(TEST_CONFIG.read_text()))
    (work / "config" / "variant.yaml").write_text(yaml.safe_dump(second_experiment()))
    locks = work / ".snakemake" / "locks"
    first = snakemake_started(
        work, "-c1", lambda: any(locks.glob("*.output.lock")), "the first run ended"
    )
    try:
        second = snakemake("-c1", "--configfile", "config/variant.yaml", cwd=work, check=False)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    said = [line for line in second.stderr.splitlines() if "until download_dataset" in line]
    assert second.returncode != 0 and len(said) == 1 and "data/digits" in said[0], second.stderr
