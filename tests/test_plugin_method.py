"""A researcher's merge method from a module outside the package (``merge.plugins``) runs
through the main table at both levels, Figure 3 and the report, with no edit to the package."""

from __future__ import annotations

import os
import subprocess

import pandas as pd
import pytest
import yaml

from .workflow_helpers import ENV, ROOT, TEST_CONFIG, snakemake, workdir_with

pytestmark = pytest.mark.slow

NAME, LABEL = "halfway", "Halfway to the average"
# Half the pretrained model, half the experts' mean; its twin mixes the features alike.
PLUGIN = f'''
import torch

from neulig.catalogue import MergeMethod

METHOD = MergeMethod(label="{LABEL}", counterpart=True)


def merge(ctx, share: float = 0.5):
    return {{
        k: (1 - share) * v + share * sum(e[k] for e in ctx.experts.values()) / len(ctx.experts)
        for k, v in ctx.pretrained.items()
    }}


def coefficients(info, tasks, routing=None):
    share = info["hparams"].get("share", 0.5)
    return torch.tensor(1 - share), torch.full((len(tasks),), share / len(tasks))
'''


def test_a_plugin_method_reaches_both_levels_figure_3_and_the_report(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{NAME}.py").write_text(PLUGIN)
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["tasks"] = {t: config["tasks"][t] for t in ("digits", "shapes")}
    config["merge"] = {"methods": ["average", NAME], "plugins": [NAME]}
    config["pairs"] = {"methods": [NAME]}
    config["ensemble"] = {"methods": ["features"]}
    config["neulig"]["compare_losses"] = []
    del config["alignment"]
    work = workdir_with(tmp_path / "work", config)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    snakemake("--cores", "2", cwd=work, env={**ENV, "PYTHONPATH": path})

    reports = work / "reports" / config["experiment"]
    levels = pd.read_csv(reports / "levels.csv", header=[0, 1], index_col=0)
    assert levels.loc[LABEL, ("Average", "Mer.")] > 0
    assert levels.loc[LABEL, ("Average", "Ens.")] > 0
    assert LABEL in set(pd.read_csv(reports / "pairs.csv")["method"])
    assert LABEL in (reports / "accuracy.md").read_text()
    named = subprocess.run(["grep", "-rl", NAME, "src", "workflow"], cwd=ROOT, capture_output=True)
    assert named.stdout == b""  # nothing in the package or the workflow knows it
