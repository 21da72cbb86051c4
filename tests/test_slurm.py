"""profiles/slurm for real: a single-node Slurm cluster with accounting on this machine
(tests/slurm/start_cluster.sh) runs the tiny test config through the profile with Snakemake's
Slurm executor plugin. Needs root and the packages of `make slurm-deps`; skipped otherwise."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .workflow_helpers import ENV, ROOT, TEST_CONFIG, snakemake, workdir_with

SCRIPTS = ROOT / "tests" / "slurm"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sacctmgr", "sbatch", "sacct")
SEARCH = os.pathsep.join([ENV["PATH"], "/usr/sbin", "/sbin"])  # the daemons live in sbin
MISSING = [name for name in DAEMONS if shutil.which(name, path=SEARCH) is None]


def _skip_reason() -> str | None:
    if MISSING:
        return f"Slurm packages not installed (make slurm-deps): no {', '.join(MISSING)}"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    if os.geteuid() != 0:
        return "needs root: it starts the Slurm, slurmdbd, MariaDB and munge daemons"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
]


@pytest.fixture(scope="module")
def slurm_env() -> Iterator[dict[str, str]]:
    """The environment of a running single-node cluster (SLURM_CONF set); stopped afterwards."""
    # Not pytest's tmp_path: its parents are private to root, and MariaDB runs as mysql.
    cluster = Path(tempfile.mkdtemp(prefix="neulig-slurm-"))
    env = {**ENV, "PATH": SEARCH, "SLURM_CONF": str(cluster / "etc" / "slurm.conf")}
    try:
        start = subprocess.run(
            [SCRIPTS / "start_cluster.sh", cluster], env=env, capture_output=True, text=True
        )
        if start.returncode:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in
                             sorted((cluster / "log").glob("*.log")))  # fmt: skip
            pytest.fail(f"start_cluster.sh failed:\n{start.stdout}{start.stderr}\n{logs}")
        yield env
    finally:
        subprocess.run([SCRIPTS / "stop_cluster.sh", cluster], env=env, capture_output=True)
        shutil.rmtree(cluster, ignore_errors=True)


def test_tiny_workflow_through_the_slurm_profile(slurm_env, tmp_path):
    work = workdir_with(tmp_path / "work", yaml.safe_load(TEST_CONFIG.read_text()))
    profile = ("--profile", str(ROOT / "profiles" / "slurm"),
               "--profile", str(SCRIPTS / "profile"), "--workflow-profile", "none")  # fmt: skip
    snakemake(*profile, "--slurm-init-seconds-before-status-checks", "1", cwd=work, env=slurm_env)

    report = work / "reports" / "ci" / "accuracy.csv"
    assert report.exists() and "NeuLig merging, per sample" in report.read_text()
    accounting = subprocess.run(
        ["sacct", "-a", "-X", "-n", "-P", "-o", "State,Comment", "-S", "now-1hours"],
        env=slurm_env, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    rules = {line.split("|")[1].split("_wildcards")[0] for line in accounting}
    assert {"rule_finetune_expert", "rule_train_router", "rule_report_tables"} <= rules, accounting
    assert all(line.startswith("COMPLETED|") for line in accounting), accounting
    assert "Nothing to be done" in snakemake("-n", *profile, cwd=work, env=slurm_env).stdout
