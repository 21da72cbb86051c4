"""A checkpoint of another architecture in place of an expert stops every merge and router job
with one line that names the file, before any method touches it."""

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from neulig import io
from neulig.cli import main
from neulig.config import check_config
from neulig.data.packed import Split, Task, write_task
from neulig.models import create_vision_tower

from .conftest import ROOT, TINY
from .workflow_helpers import SCHEMA

CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
FOREIGN = {"wider_vit": "NeuLig-Small-ViT-8", "resnet": "NeuLig-Tiny-RN"}
TASKS = ("a", "b")
N = 8


def _layout(root):
    """A pretrained tiny tower, expert ``a`` fine-tuned from it, two packed tasks and heads."""
    rng = np.random.default_rng(0)
    for task in TASKS:
        splits = {
            s: Split(rng.integers(0, 256, (N, 32, 32, 3), dtype=np.uint8), np.arange(N) % 2)
            for s in ("train", "val", "test")
        }
        write_task(root / task, Task(task, ["x", "y"], ["{}"], splits, {}))
    heads = {f"{t}/weight": F.normalize(torch.randn(2, 64), dim=-1) for t in TASKS}
    heads.update({f"{t}/scale": torch.tensor(20.0) for t in TASKS})
    io.save_tensors(root / "heads.safetensors", heads)
    torch.manual_seed(0)
    pretrained = create_vision_tower(TINY).state_dict()
    io.save_checkpoint(root / "pre.safetensors", pretrained, {"architecture": TINY, "task": None})
    expert = {k: v + 0.01 * torch.randn_like(v) for k, v in pretrained.items()}
    io.save_checkpoint(root / "a.safetensors", expert, {"architecture": TINY, "task": "a"})


@pytest.fixture(scope="module", params=sorted(FOREIGN))
def layout(request, tmp_path_factory):
    """The layout with expert ``b`` swapped for a tower of ``FOREIGN[param]``; the sidecar is
    the one the real expert had, as when only the weights file was replaced."""
    root = tmp_path_factory.mktemp(request.param)
    _layout(root)
    foreign = create_vision_tower(FOREIGN[request.param]).state_dict()
    if request.param == "wider_vit":  # the tiny ViT's keys, every one another shape
        tiny_keys = io.load_tensors(root / "pre.safetensors")
        foreign = {k: v for k, v in foreign.items() if k in tiny_keys}
    io.save_checkpoint(root / "b.safetensors", foreign, {"architecture": TINY, "task": "b"})
    return root


def _one_line_error(capsys, argv, step):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith(f"neulig {step}: error: "), err
    assert 'File "' not in err and "Traceback" not in err
    return err


def _assert_names_the_swapped_expert(err, root):
    assert f"{root / 'b.safetensors'}: does not match architecture {TINY}" in err, err
    assert "delete it" in err
    which = "'class_embedding' is [128], expected [64]" if "wider_vit" in root.name else "missing"
    assert which in err, err


def _merge_args(root):
    return [
        "--pretrained", str(root / "pre.safetensors"),
        "--experts", str(root / "a.safetensors"), str(root / "b.safetensors"),
        "--data", *(str(root / t / "meta.json") for t in TASKS),
        "--heads", str(root / "heads.safetensors"),
    ]  # fmt: skip


def _params(method):
    return json.dumps({**CONFIG["merge"].get(method, {}), "seed": 0, "device": "cpu"})


@pytest.mark.parametrize("method", CONFIG["merge"]["methods"])
def test_every_merge_names_the_expert_of_another_architecture(capsys, layout, method):
    out = layout / f"merged_{method}.safetensors"
    argv = ["merge", "--method", method, "--params", _params(method), *_merge_args(layout)]
    err = _one_line_error(capsys, [*argv, "--out", str(out)], "merge")
    _assert_names_the_swapped_expert(err, layout)
    assert not out.exists()


def _features(root):
    """Feature caches of both experts, as the evaluate step writes them."""
    paths = []
    for expert in TASKS:
        cache = {}
        for task in TASKS:
            for split in ("train", "val", "test"):
                cache[f"{task}/{split}"] = torch.randn(N, 64)
                cache[f"{task}/{split}/labels"] = torch.arange(N) % 2
        io.save_tensors(root / f"{expert}.features.safetensors", cache)
        paths.append(str(root / f"{expert}.features.safetensors"))
    return paths


def test_the_router_job_names_the_expert_of_another_architecture(capsys, layout):
    config = copy.deepcopy(CONFIG)
    check_config(config, SCHEMA)  # the router's defaults
    params = {**config["neulig"], "steps": 2, "eval_every": 1, "seed": 0, "device": "cpu"}
    argv = [
        "route", "--combo", "a+b", "--params", json.dumps(params),
        "--experts", str(layout / "a.safetensors"), str(layout / "b.safetensors"),
        "--features", *_features(layout), "--heads", str(layout / "heads.safetensors"),
        "--data", *(str(layout / t / "meta.json") for t in TASKS),
        "--out-router", str(layout / "router.safetensors"),
        "--out-betas", str(layout / "betas.json"), "--out", str(layout / "records.json"),
    ]  # fmt: skip
    _assert_names_the_swapped_expert(_one_line_error(capsys, argv, "route"), layout)


def test_the_pair_job_names_the_expert_of_another_architecture(capsys, layout):
    argv = [
        "pair", "--method", "average", "--params", _params("average"), *_merge_args(layout),
        "--pretrained-features", _features(layout)[0], "--features", *_features(layout),
        "--out", str(layout / "pair.json"), "--out-info", str(layout / "pair.info.json"),
    ]  # fmt: skip
    _assert_names_the_swapped_expert(_one_line_error(capsys, argv, "pair"), layout)


def test_an_expert_of_the_same_architecture_passes_the_check(tmp_path):
    from neulig.models import check_expert

    _layout(tmp_path)
    reference = io.load_tensors(tmp_path / "pre.safetensors")
    check_expert("a.safetensors", io.load_tensors(tmp_path / "a.safetensors"), reference, TINY)
    with_router = {**reference, "extra/router.weight": torch.ones(2)}  # a WeMoE merge's extras
    check_expert("wemoe.safetensors", with_router, reference, TINY)


def test_the_wemoe_counterpart_job_names_the_expert_of_another_architecture(capsys, layout):
    # WeMoE merges per input, so its prediction-level job rebuilds the merge from the experts
    io.write_json(layout / "wemoe.json", {"experts": list(TASKS), "method": "wemoe"})
    features = _features(layout)
    argv = [
        "counterpart", "--method", "wemoe", "--info", str(layout / "wemoe.json"),
        "--pretrained-features", features[0], "--features", *features,
        "--heads", str(layout / "heads.safetensors"), "--out", str(layout / "levels.json"),
        "--model", str(layout / "pre.safetensors"), *_merge_args(layout)[:-2],
    ]  # fmt: skip
    _assert_names_the_swapped_expert(_one_line_error(capsys, argv, "counterpart"), layout)
