"""Every file a rule reads or writes is declared: the tiny workflow runs with Snakemake's `fs`
storage plugin as default storage, which moves every declared input and output through a
local "remote" folder, so an undeclared file is missing where the next job looks for it."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import yaml

from .workflow_helpers import TEST_CONFIG, snakemake, workdir_with

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("snakemake_storage_plugin_fs") is None,
        reason="snakemake-storage-plugin-fs is not installed (pip install -e '.[test]')",
    ),
]


def test_tiny_workflow_through_default_storage(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    work = workdir_with(tmp_path / "work", config)
    remote = tmp_path / "remote"
    storage = ("--default-storage-provider", "fs", "--default-storage-prefix", str(remote))
    snakemake("--cores", "2", *storage, cwd=work)
    report = remote / "reports" / "ci" / "accuracy.csv"
    assert report.exists() and "NeuLig merging, per sample" in report.read_text()
    assert list(remote.glob("data/digits*/train.images.npy"))
    assert list(remote.glob("results/ci/finetune/*/vision.json"))
    assert "Nothing to be done" in snakemake("-n", *storage, cwd=work).stdout
    # the local copies are a cache: without them the run is still complete in the remote
    shutil.rmtree(work / ".snakemake" / "storage")
    assert "Nothing to be done" in snakemake("-n", *storage, cwd=work).stdout
