"""Deployment as the snakemake-workflows catalogue does it (`snakedeploy deploy-workflow`):
another directory holds only `workflow/Snakefile`, which uses this workflow as a Snakemake
module, and its own `config/config.yaml`. The workflow must find its own files (schema, rules,
captions, default config) beside its Snakefile, not in the caller's directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .workflow_helpers import ENV, ROOT, TEST_CONFIG

# What snakedeploy writes (with a local clone instead of `github(...)`).
DEPLOYED_SNAKEFILE = """\
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


module neulig:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from neulig
"""


def deployed(tmp_path: Path, snakefile: str = "workflow/Snakefile") -> Path:
    """A deployment of ``snakefile`` (snakedeploy's choice is workflow/Snakefile)."""
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(
        DEPLOYED_SNAKEFILE.format(snakefile=(ROOT / snakefile).as_posix())
    )
    (tmp_path / "config").mkdir()
    shutil.copy(TEST_CONFIG, tmp_path / "config" / "config.yaml")
    return tmp_path


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # No --snakefile: Snakemake finds the deployment's workflow/Snakefile, as a user's call does.
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.parametrize("snakefile", ["workflow/Snakefile", "Snakefile"])
def test_module_deployment_plans_with_its_own_config(tmp_path, snakefile):
    out = run(deployed(tmp_path, snakefile), "-n", "--cores", "1").stdout
    assert "report_tables" in out
    assert "results/ci/" in out  # the deployment's config (experiment ci), not the default


@pytest.mark.slow
def test_module_deployment_runs_the_tiny_config_to_its_report(tmp_path):
    repo = deployed(tmp_path)
    run(repo, "--cores", "2")
    report = repo / "reports" / "ci"
    for name in ("accuracy.md", "accuracy.csv", "levels.csv", "metrics.json"):
        assert (report / name).stat().st_size > 0, name
    assert "Nothing to be done" in run(repo, "-n", "--cores", "1").stdout
    # the HTML report picks up the deployed workflow's outputs and captions
    run(repo, "--report", "report.html")
    assert (repo / "report.html").stat().st_size > 0
    # A module's caller writes its own front page; the workflow's own (workflow.rst), rendered
    # with this deployment's config on the same outputs:
    run(repo, "--snakefile", str(ROOT / "Snakefile"), "--report", "neulig.html")
    assert "What each category holds" in (repo / "neulig.html").read_text()
