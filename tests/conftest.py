"""Shared fixtures: tiny open_clip towers, and one tiny workflow run that every test reading
a finished run's outputs shares (it runs once per session, in a git + DVC repository)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from neulig.models import create_clip

from .workflow_helpers import BARE_ENV, TEST_CONFIG, layout_copy, sh, snakemake

ROOT = Path(__file__).resolve().parents[1]
TINY = "NeuLig-Tiny-ViT-32"


@pytest.fixture(autouse=True)
def _quiet_open_clip():
    logging.getLogger().setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def towers() -> list[torch.nn.Module]:
    """Three tiny vision towers with different random weights."""
    return [create_clip(TINY, None, seed=s).visual.eval() for s in range(3)]


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(
        0, 256, (6, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """This repository (its real layout: tests.workflow_helpers.layout_copy) after a successful
    run of the tiny test config (experiment ``ci``) as its default config, and of a one-member
    suite over it (config/suite.yaml, experiment ``ci-suite``), committed and pushed with
    `make push` to a local DVC remote. Tests must not modify it: copy it."""
    base = tmp_path_factory.mktemp("tiny_run")
    repo = layout_copy(base / "repo")
    sh("dvc", "remote", "modify", "--local", "local", "url", str(base / "remote"), cwd=repo)
    shutil.copy(TEST_CONFIG, repo / "config" / "config.yaml")
    suite = {"base": ".test/config/config.yaml", "members": {"ci": {"experiment": "ci"}}}
    suite["table1"] = {"ViT": "ci"}
    (repo / "config" / "suite.yaml").write_text(
        yaml.safe_dump({"experiment": "ci-suite", "suite": suite})
    )
    snakemake("--cores", "2", cwd=repo, env=BARE_ENV)  # rules find the CLI all the same
    snakemake("--cores", "2", "--configfile", "config/suite.yaml", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "run", cwd=repo)
    sh("make", "-o", "setup", "push", cwd=repo)
    return repo
