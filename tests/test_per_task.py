"""Per-task methods (TALL masks, EMR-Merging) in the workflow: declared once in the catalogue
(the schema, plan and report follow), each task scored with its own model by the merge step and
by Figure 3's pair step, and their jobs in the default run's plan."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch
import yaml

from neulig import io
from neulig.catalogue import PER_TASK_MARK, merge_methods
from neulig.config import _schema
from neulig.errors import ConfigError
from neulig.evaluate import accuracy
from neulig.merging import merge
from neulig.merging.evaluation import per_task_records
from neulig.merging.pairs import pair_records
from neulig.models import encode_images
from neulig.records import read_records
from neulig.reporting.fidelity import BENCH8
from neulig.reporting.labels import label

from .test_merge_methods import packed_context, perturbed
from .workflow_helpers import ROOT, SCHEMA, job_counts, snakemake

PER_TASK = ["emr", "tall"]
PARAMS = {"emr": {}, "tall": {"search": {"tall_lambda": [0.2, 0.6]}}}


@pytest.fixture
def disjoint_ctx(towers, tmp_path):
    """Experts whose task vectors touch disjoint tensors: each task's TALL and EMR model is then
    exactly that task's expert (TALL: m_t = 1 on its own entries, 0 on the other's; EMR: M_t
    the same, tau_uni = tau_t there, lambda_t = 1)."""
    theta0 = towers[0].state_dict()
    half = set(sorted(theta0)[::2])
    experts = {
        "a": perturbed(theta0, 1, scale=0.5, keep=lambda k: k in half),
        "b": perturbed(theta0, 2, scale=0.5, keep=lambda k: k not in half),
    }
    return packed_context(tmp_path, theta0, experts, splits=("val", "test"), tower=towers[0])


def expert_scores(ctx, task):
    """Every expert's test scores on ``task`` with ``task``'s head, and the labels."""
    images, labels = ctx.batch(task, "test")
    head = ctx.heads[task]
    return {t: head(encode_images(ctx.skeleton(e), images)) for t, e in ctx.experts.items()}, labels


@pytest.mark.parametrize("method", PER_TASK)
def test_the_merge_step_scores_each_task_with_its_own_model(disjoint_ctx, method):
    records, info = per_task_records(method, disjoint_ctx, PARAMS[method], disjoint_ctx.heads)
    assert [r.task for r in records] == ["a", "b"]
    for record in records:
        scores, labels = expert_scores(disjoint_ctx, record.task)
        other = "b" if record.task == "a" else "a"
        # the task's own expert, not the other one: scored with the task's identity
        assert record.accuracy == round(accuracy(scores[record.task], labels), 4)
        assert not torch.allclose(scores[record.task], scores[other], atol=1e-3)
        assert (record.kind, record.level, record.model) == ("merge", "merge", f"merge_{method}")
        assert record.combo is None and record.n == len(labels)
    if method == "tall":  # lambda_t chosen on each task's own val split
        assert set(info["hparams"]["tall_lambda"]) == {"a", "b"}
        assert info["searched"] == "tall_lambda" and len(info["val_accuracy"]) == 4


def test_the_cli_step_writes_records_and_a_sidecar_but_no_checkpoint(disjoint_ctx, tmp_path):
    from neulig.cli.stages import merge_per_task

    arch = {"architecture": "NeuLig-Tiny-ViT-32"}
    pre = tmp_path / "pre.safetensors"
    io.save_checkpoint(pre, disjoint_ctx.pretrained, {**arch, "task": None})
    for task, state in disjoint_ctx.experts.items():
        io.save_checkpoint(tmp_path / f"{task}.safetensors", state, {**arch, "task": task})
    args = SimpleNamespace(
        method="tall",
        pretrained=str(pre),
        experts=[str(tmp_path / f"{t}.safetensors") for t in disjoint_ctx.experts],
        data=[str(p) for p in disjoint_ctx.data.values()],
        heads=str(disjoint_ctx.heads_path),
        out=str(tmp_path / "records.json"),
        out_info=str(tmp_path / "vision.json"),
        params={"device": "cpu", **PARAMS["tall"]},
    )
    merge_per_task(args)
    expected, _ = per_task_records("tall", disjoint_ctx, PARAMS["tall"], disjoint_ctx.heads)
    assert read_records(tmp_path / "records.json") == expected
    info = io.read_json(tmp_path / "vision.json")
    assert info["method"] == "tall" and info["experts"] == ["a", "b"]
    assert set(info["hparams"]["tall_lambda"]) == {"a", "b"}
    assert not list(tmp_path.glob("*vision.safetensors"))
    with pytest.raises(ConfigError, match="not a per-task method"):
        merge_per_task(SimpleNamespace(**{**vars(args), "method": "average"}))


def test_figure_3_pairs_a_per_task_method_with_the_uniform_feature_ensemble(disjoint_ctx):
    cached = {t: expert_scores(disjoint_ctx, t) for t in disjoint_ctx.experts}
    images = {t: disjoint_ctx.batch(t, "test")[0] for t in disjoint_ctx.experts}
    feats = {
        name: {f"{t}/test": encode_images(disjoint_ctx.skeleton(state), images[t]) for t in images}
        for name, state in {"pre": disjoint_ctx.pretrained, **disjoint_ctx.experts}.items()
    }
    for t in images:
        feats["pre"][f"{t}/test/labels"] = cached[t][1]
    records, _ = pair_records(
        "emr", disjoint_ctx, {}, feats["pre"], [feats["a"], feats["b"]], disjoint_ctx.heads
    )
    merged = {r.task: r.accuracy for r in records if r.level == "merge"}
    for task, (scores, labels) in cached.items():
        assert merged[task] == round(accuracy(scores[task], labels), 4)
    assert {r.combo for r in records} == {"a+b"} and len(records) == 4


def test_a_per_task_method_has_no_single_merge(disjoint_ctx):
    with pytest.raises(ConfigError, match="one model per task"):
        merge("emr", disjoint_ctx)


def test_the_catalogue_declares_them_and_schema_and_report_follow():
    methods = merge_methods()
    assert sorted(m for m, d in methods.items() if d.per_task) == PER_TASK
    enum = _schema(str(SCHEMA))["properties"]["merge"]["propertyNames"]["enum"]
    assert set(PER_TASK) <= set(enum)
    assert label("emr") == "EMR-Merging" + PER_TASK_MARK
    assert label("tall") == "TALL masks" + PER_TASK_MARK
    assert BENCH8.values[label("emr")] == 88.7 and label("emr") in BENCH8.ranked


def test_the_default_run_plans_one_merge_job_per_per_task_method(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = snakemake("-n", "--cores", "2", cwd=tmp_path).stdout
    counts = job_counts(out)
    methods = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["merge"]["methods"]
    assert set(PER_TASK) <= set(methods)
    assert counts["merge_per_task"] == len(PER_TASK)
    assert counts["merge_experts"] == len(methods) - len(PER_TASK)
    for method in PER_TASK:
        assert f"results/tiny/merge/{method}/records.json" in out
        assert f"results/tiny/merge/{method}/vision.safetensors" not in out
        assert f"results/tiny/features/merge_{method}.safetensors" not in out
