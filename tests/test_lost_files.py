"""Nothing lost stays lost: a file of a finished run that a killed job or a user (deleting a
corrupt file, as its error says) removed comes back with a plain `snakemake`, byte-identical,
and DVC records the same folders again."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from neulig.io import REBUILD

from .workflow_helpers import digests, sh, snakemake, snakemake_started

pytestmark = pytest.mark.slow

FOLDERS = ("data", "results/ci", "reports/ci")


def kill_once_a_job_runs(repo: Path) -> None:
    """Start a plain `snakemake` and SIGKILL it (and its jobs) once its first job has begun."""
    incomplete = repo / ".snakemake" / "incomplete"
    run = snakemake_started(
        repo, "-c2", lambda: incomplete.is_dir() and any(incomplete.iterdir()), "no job started"
    )
    time.sleep(3)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()


def test_lost_and_corrupt_files_come_back_identical_after_a_kill(tiny_run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(tiny_run, work, symlinks=True)
    before = {d: digests(work / d) for d in FOLDERS}
    neulig = work / "results" / "ci" / "neulig"
    corrupt = neulig / "digits+gratings" / "records.json"
    corrupt.write_text("{not json")
    assert snakemake("-c2", cwd=work, check=False).returncode != 0
    log = (work / "logs" / "ci" / "report_tables" / "report_tables.log").read_text()
    error = log.strip().splitlines()[-1]
    assert str(corrupt.relative_to(work)) in error and error.endswith(REBUILD)
    corrupt.unlink()  # what the error says
    shutil.rmtree(neulig / "digits+shapes")  # lost: a kill during `snakemake -R train_router`
    (neulig / "gratings+shapes" / "router.safetensors").unlink()  # no later step reads it
    (work / "results" / "ci" / "merge" / "ties" / "vision.safetensors").unlink()  # one reads it
    kill_once_a_job_runs(work)
    snakemake("--unlock", cwd=work)
    snakemake("-c2", cwd=work)
    assert {d: digests(work / d) for d in FOLDERS} == before
    sh("git", "diff", "--exit-code", "--", "data.dvc", "results", "reports", cwd=work)
