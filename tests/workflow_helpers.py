"""Running Snakemake, git and DVC from tests, in throw-away working directories."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / ".test" / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
# As a user who runs .venv/bin/snakemake without activating the venv: the CLI is not on PATH.
BARE_ENV = {
    **os.environ,
    "PATH": os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != BIN.resolve()
    ),
}


def snakemake(
    *args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Snakemake on this repository's Snakefile, run in ``cwd``: a throw-away folder, never the
    checkout itself, whose data/, results/ and .snakemake/ hold whatever a user's run left."""
    if Path(cwd).resolve().is_relative_to(ROOT):
        raise ValueError(f"{cwd}: run Snakemake from tests in a temporary folder (tmp_path)")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        env=env or ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def snakemake_started(cwd: Path, cores: str, until: Callable[[], bool], what: str):
    """A plain `snakemake` in its own process group (kill it with ``os.killpg``), returned once
    ``until()`` holds; fails with ``what`` if it ends or 5 minutes pass first."""
    run = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), cores],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not until():
        if run.poll() is not None or time.monotonic() > deadline:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            raise AssertionError(what)
        time.sleep(0.2)
    return run


def sh(*cmd: str, cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode:
        raise AssertionError(f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def workdir_with(tmp_path: Path, config: dict, name: str = "config.yaml") -> Path:
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / name).write_text(yaml.safe_dump(config))
    return tmp_path


def git_dvc_repo(path: Path, remote: Path | None = None) -> Path:
    """An empty git + DVC repository (with a local DVC remote when given)."""
    path.mkdir(parents=True, exist_ok=True)
    sh("git", "init", "-q", cwd=path)
    sh("git", "config", "user.email", "ci@example.org", cwd=path)
    sh("git", "config", "user.name", "ci", cwd=path)
    sh("dvc", "init", "-q", cwd=path)
    if remote is not None:
        sh("dvc", "remote", "add", "-q", "-d", "local", str(remote), cwd=path)
    return path


# Files a run writes outside its ignored folders: DVC pointers and each experiment's DVC
# declarations (to be committed by whoever ran it).
RUN_WRITTEN = ("dvc/*/dvc.yaml", "results/*.dvc", "reports/*.dvc")


def layout_copy(dest: Path) -> Path:
    """This repository as a fresh clone of it holds it, with the working tree's edits, in a new
    git repository: its own .gitignore, .dvcignore, dvc.yaml, DVC config, Makefile and committed
    pointers, which decide what `dvc push` and `dvc pull` see. ``make -o setup <target>`` works
    in it (its .venv is this interpreter's). What runs in this checkout wrote and nobody
    committed (``RUN_WRITTEN``) is left out: the copy is a clone, not this working tree's runs."""
    tracked = sh("git", "ls-files", "-z", "--cached", cwd=ROOT).split("\0")
    new = sh("git", "ls-files", "-z", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    new = [n for n in new if not any(fnmatch.fnmatch(n, p) for p in RUN_WRITTEN)]
    for name in filter(None, tracked + new):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    sh("git", "init", "-q", cwd=dest)
    identity = ("-c", "user.email=ci@example.org", "-c", "user.name=ci")
    sh("git", *identity, "add", "-A", cwd=dest)
    sh("git", *identity, "commit", "-qm", "the repository as it is", cwd=dest)
    return with_venv(dest)


def with_venv(repo: Path) -> Path:
    """A clone's .venv: a link to this interpreter's venv, ignored like the project's own."""
    (repo / ".venv").symlink_to(BIN.parent)
    (repo / ".git" / "info" / "exclude").write_text("/.venv\n")
    sh("git", "config", "user.email", "ci@example.org", cwd=repo)
    sh("git", "config", "user.name", "ci", cwd=repo)
    return repo


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run as {rule: count} ({} when nothing is to be done)."""
    if "Job stats:" not in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


def planned_jobs(cwd: Path, *args: str) -> dict[str, int]:
    counts = job_counts(snakemake("-n", *args, cwd=cwd).stdout)
    counts.pop("total", None)
    return counts


def config_error(cwd: Path, *args: str) -> str:
    """The one line ``snakemake -n`` prints for a bad config, after checking that it exits
    non-zero with no `File "...", line ...` frame (Snakemake's notice of the profile aside)."""
    result = snakemake("-n", "--cores", "1", *args, cwd=cwd, check=False)
    out = result.stdout + result.stderr
    lines = [line for line in out.splitlines() if not line.startswith("Using workflow specific")]
    assert result.returncode != 0, out
    assert len(lines) == 1 and 'File "' not in out, out
    return lines[0]


def unrequested_outputs(dry_run_output: str) -> list[str]:
    """Files a dry run's jobs write that its default target (rule all, or a suite's) does not
    ask for."""
    requested, written = set(), []
    for job in re.split(r"^(?=(?:local)?rule \w+:)", dry_run_output, flags=re.MULTILINE):
        rule = re.match(r"(?:local)?rule (\w+):", job)
        for kind, files in re.findall(r"^\s+(input|output): (.*)$", job, re.MULTILINE):
            if kind == "output":
                written += files.split(", ")
            elif rule and rule[1] in ("all", "suite"):
                requested.update(files.split(", "))
    return sorted(set(written) - requested)


def digests(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) with the MD5 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
