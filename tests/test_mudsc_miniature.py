"""The MuDSC miniature's pieces: task splits, scoring every method, the landscape plane, the
rows file and the report section (tiny untrained models; the real run is a workflow job)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from neulig.cli import main
from neulig.mudsc_miniature import METHODS
from neulig.mudsc_miniature.landscape import loss_landscape
from neulig.mudsc_miniature.methods import evaluate_methods
from neulig.mudsc_miniature.pair import write_rows
from neulig.mudsc_miniature.tasks import MiniTask, Split, class_embeddings, load_tasks
from neulig.report_sections import report_files
from neulig.resnet import ResNet, reset_bn
from tests.test_align_resnet import one_thread  # noqa: F401 (autouse fixture)
from tests.workflow_helpers import ROOT

PARAMS = {"lam": 0.5, "lam_grid": [0.2, 0.8], "alpha": 0.5, "beta": 1.0, "seed": 0}


def test_tasks_are_class_disjoint_with_disjoint_splits() -> None:
    tasks, names = load_tasks("sklearn_digits", 8, {"val": 0.2, "test": 0.2}, seed=0)
    assert [t.classes for t in tasks] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]] and len(names) == 10
    for task in tasks:
        seen = [set(map(int, task.splits[s].labels.unique())) for s in ("train", "val", "test")]
        assert all(s == set(task.classes) for s in seen)
        images = torch.cat([task.splits[s].images.flatten(1) for s in ("train", "val", "test")])
        assert len(images) == sum(len(task.splits[s].labels) for s in ("train", "val", "test"))
    again, _ = load_tasks("sklearn_digits", 8, {"val": 0.2, "test": 0.2}, seed=0)
    assert torch.equal(again[1].splits["val"].images, tasks[1].splits["val"].images)


def _toy() -> tuple[list[MiniTask], torch.Tensor, tuple[ResNet, ResNet]]:
    gen = torch.Generator().manual_seed(0)
    tasks = []
    for t, classes in enumerate(([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])):
        splits = {
            s: Split(torch.randn(20, 1, 8, 8, generator=gen), torch.arange(20) % 5 + 5 * t)
            for s in ("train", "val", "test")
        }
        tasks.append(MiniTask(f"task{'ab'[t]}", classes, splits))
    heads = class_embeddings([str(i) for i in range(10)], 8)
    calibration = torch.randn(32, 1, 8, 8, generator=gen)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(reset_bn(ResNet(1, 8, in_channels=1), calibration).eval())
    return tasks, heads, tuple(models)


def test_every_method_is_scored_and_lambda_is_selected_on_val(tmp_path) -> None:
    tasks, heads, models = _toy()
    calibration = torch.cat([t.splits["train"].images for t in tasks])
    rows, chosen = evaluate_methods(models, tasks, heads, calibration, PARAMS, ("toy", "0-1"))
    frame = pd.DataFrame([r.__dict__ for r in rows])
    assert list(dict.fromkeys(frame["method"])) == list(METHODS)
    picked = frame[frame["selected"]]
    assert (picked.groupby(["method", "split"]).size() == 1).all()
    for method in ("mudsc_align", "mudsc_zip"):
        runs = frame[(frame["method"] == method) & (frame["split"] == "val")]
        assert sorted(runs["lam"]) == PARAMS["lam_grid"]
        assert runs[runs["selected"]]["joint"].item() == runs["joint"].max()
    assert set(chosen) == set(METHODS[3:])
    write_rows(tmp_path / "rows.csv", rows)
    assert len(pd.read_csv(tmp_path / "rows.csv")) == len(rows)


def test_landscape_plane_coordinates() -> None:
    tasks, heads, (a, b) = _toy()
    states = {n: m.state_dict() for n, m in (("A", a), ("B", b))}
    z = {k: (v + 0.3 * torch.randn_like(v) if v.is_floating_point() else v)
         for k, v in a.state_dict().items()}  # fmt: skip
    mid = {k: (v + states["B"][k]) / 2 for k, v in states["A"].items()}
    land = loss_landscape(a, {**states, "Z": z}, {"mid": mid}, tasks, heads,
                          tasks[0].splits["train"].images, steps=3)  # fmt: skip
    assert land.loss.shape == (2, 3, 3) and np.isfinite(land.loss).all()
    assert land.points["A"] == (0.0, 0.0) and land.points["B"][1] == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(land.points["mid"], (land.points["B"][0] / 2, 0), atol=1e-6)
    assert land.points["Z"][1] > 0


def test_report_section_writes_table_and_figures(tmp_path) -> None:
    tasks, heads, models = _toy()
    calibration = torch.cat([t.splits["train"].images for t in tasks])
    rows, _ = evaluate_methods(models, tasks, heads, calibration, PARAMS, ("toy", "0-1"))
    write_rows(tmp_path / "rows.csv", rows)
    land = loss_landscape(models[0], {"A": models[0].state_dict(), "B": models[1].state_dict(),
                                      "MuDSC-Zip": {k: v * 0.9 for k, v in
                                                    models[0].state_dict().items()}},
                          {}, tasks, heads, calibration, steps=2)  # fmt: skip
    np.savez(tmp_path / "land.npz", **land.arrays())
    out = tmp_path / "report"
    code = main(["mudsc-report", "--rows", str(tmp_path / "rows.csv"), "--landscapes",
                 str(tmp_path / "land.npz"), "--out-dir", str(out)])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "mudsc.csv")
    assert len(table) == len(METHODS) and (table["pairs"] == 1).all()
    assert "MuDSC-Zip >= ZipIt" in (out / "mudsc.md").read_text()
    assert (out / "mudsc_lambda.png").stat().st_size > 0
    assert (out / "mudsc_landscape.png").stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())["joint_accuracy"]["toy"]
    assert set(metrics) == set(table["method"])
    # the files written are the ones the registered section declares (the rule's outputs)
    config = yaml.safe_load((ROOT / "config" / "mudsc.yaml").read_text())
    assert {f.path for f in report_files(config)} == {p.name for p in out.iterdir()}
