"""DVC versions what Snakemake produces: share, pull-then-nothing-to-do, targeted reruns and a
corrupt cache, on the tiny test config in throw-away git + DVC repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .test_workflow import TEST_CONFIG, snakemake

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def sh(*cmd: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode:
        raise AssertionError(f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def planned_jobs(cwd: Path) -> dict[str, int]:
    out = snakemake("-n", "--quiet", "rules", cwd=cwd).stdout
    jobs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A repository after a successful tiny run, pushed to a local DVC remote."""
    base = tmp_path_factory.mktemp("dvc")
    repo, remote = base / "repo", base / "remote"
    (repo / "config").mkdir(parents=True)
    shutil.copy(TEST_CONFIG, repo / "config" / "config.yaml")
    sh("git", "init", "-q", cwd=repo)
    sh("git", "config", "user.email", "ci@example.org", cwd=repo)
    sh("git", "config", "user.name", "ci", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "remote", "add", "-q", "-d", "local", str(remote), cwd=repo)
    snakemake("--cores", "2", cwd=repo)
    status = sh("git", "status", "--porcelain", cwd=repo)
    assert {"data.dvc", "results.dvc", "reports.dvc"} <= {line[3:] for line in status.splitlines()}
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "run", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    return repo, remote


def test_clone_and_pull_has_nothing_to_do(finished, tmp_path):
    repo, _ = finished
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    sh("dvc", "pull", "-q", cwd=clone)
    snakemake("--touch", "--cores", "1", cwd=clone)  # what `make pull` does
    assert "Nothing to be done" in snakemake("-n", cwd=clone).stdout
    for name in ("accuracy.csv", "accuracy.md", "neulig_gap.csv", "accuracy_by_task.png"):
        assert (clone / "reports" / name).read_bytes() == (repo / "reports" / name).read_bytes()


def test_one_learning_rate_reruns_exactly_its_descendants(finished, tmp_path):
    repo, _ = finished
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["tasks"]["shapes"]["finetune"] = {"lr": 5e-4}
    work = tmp_path / "edited"
    shutil.copytree(repo, work, symlinks=True)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(work) == {
        "finetune_expert": 1,  # shapes only
        "finetune_expert_seed": 1,  # shapes from the other initialisation (alignment)
        "align_experts": 4,  # both experiments align a shapes expert
        "evaluate_model": 1 + 3,  # its features + the three merged models
        "merge_experts": 3,
        "ensemble_experts": 2,
        "train_router": 3,  # the combinations that contain shapes
        "report_tables": 1,
        "all": 1,
    }
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["report"]["title"] = "another title"
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(work) == {"report_tables": 1, "all": 1}
    config["neulig"]["alpha"] = 0.1
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    # routers, and the alignment jobs that merge their pair with NeuLig
    assert planned_jobs(work) == {
        "train_router": 4,
        "align_experts": 4,
        "report_tables": 1,
        "all": 1,
    }


def test_corrupt_cache_file_is_detected(finished, tmp_path):
    repo, _ = finished
    clone = tmp_path / "corrupt"
    shutil.copytree(repo, clone, symlinks=True)
    target = clone / "results" / "eval" / "pretrained.json"
    cache = clone / ".dvc" / "cache" / "files" / "md5"
    victim = next(
        p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == target.read_bytes()
    )
    victim.chmod(0o644)
    victim.write_text("corrupted")
    target.unlink()
    out = sh("dvc", "status", cwd=clone)
    assert "not in cache" in out and "results" in out
