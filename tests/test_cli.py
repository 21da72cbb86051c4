"""User-fixable failures end in one line naming the file or key, never a deep traceback."""

import os
import stat

import numpy as np
import pytest
import torch
import yaml

from neulig import io
from neulig.cli import main
from neulig.config import check_config
from neulig.models import create_clip, load_vision_tower

from .conftest import ROOT, TINY


def run(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_missing_dataset(capsys, tmp_path):
    code, line = run(
        capsys,
        "finetune",
        "--data",
        str(tmp_path / "data" / "nope"),
        "--pretrained",
        "x.safetensors",
        "--heads",
        "h.safetensors",
        "--out",
        "o",
    )
    assert code == 1
    assert line.startswith("neulig finetune: error:") and "nope/meta.json" in line


def test_corrupt_checkpoint(capsys, tmp_path):
    path = tmp_path / "vision.safetensors"
    path.write_bytes(b"\x00garbage" * 10)
    io.write_json(path.with_suffix(".json"), {"architecture": TINY})
    code, line = run(
        capsys,
        "evaluate",
        "--model",
        str(path),
        "--data",
        "d",
        "--splits",
        "test",
        "--heads",
        "h",
        "--name",
        "pretrained",
        "--out-features",
        "f",
        "--out",
        "o",
    )
    assert code == 1 and str(path) in line and "corrupt" in line
    assert line.endswith(f"; {io.REBUILD}")  # a plain `snakemake` rebuilds it (test_resume.py)


def test_mismatched_checkpoint_names_file_and_architecture(tmp_path):
    path = tmp_path / "vision.safetensors"
    visual = create_clip(TINY, None).visual
    state = {k: v for k, v in visual.state_dict().items() if k != "proj"}
    io.save_checkpoint(path, state, {"architecture": TINY})
    with pytest.raises(io.ArtifactError) as err:
        load_vision_tower(path)
    assert str(path) in str(err.value) and TINY in str(err.value) and "\n" not in str(err.value)


def test_bad_params_json_is_reported():
    with pytest.raises(SystemExit, match="--params is not valid JSON"):
        main(["download", "--task", "t", "--out", "o", "--params", "{not json"])


def test_config_errors_name_the_key():
    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    with pytest.raises(io.ConfigError, match="required property"):
        check_config({"seed": 0}, schema)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    check_config(config, schema)
    config["neulig"]["alpha"] = -1
    with pytest.raises(io.ConfigError, match=r"^config key 'neulig.alpha': -1 is less than"):
        check_config(config, schema)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.safetensors"
    with pytest.raises(KeyboardInterrupt), io.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert not target.exists() and list(tmp_path.iterdir()) == []
    io.save_tensors(target, {"x": torch.ones(2)})
    assert torch.equal(io.load_tensors(target)["x"], torch.ones(2))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_writes_get_the_mode_the_umask_gives(tmp_path, umask):
    # others on a shared filesystem (or a group-shared DVC cache) read what a run writes
    previous = os.umask(umask)
    try:
        io.write_json(tmp_path / "a.json", {"x": 1})
        io.save_array(tmp_path / "a.npy", np.zeros(2))
        io.save_tensors(tmp_path / "a.safetensors", {"x": torch.ones(2)})
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["a.json", "a.npy", "a.safetensors"], 0o666 & ~umask)


def test_missing_head_names_the_task_and_the_step(tmp_path):
    from neulig.evaluate import read_heads

    heads = tmp_path / "heads.safetensors"
    io.save_tensors(heads, {"digits/weight": torch.eye(2), "digits/scale": torch.tensor(1.0)})
    assert set(read_heads(heads, ["digits"])) == {"digits"}
    with pytest.raises(io.ArtifactError) as err:
        read_heads(heads, ["digits", "shapes"])
    message = str(err.value)
    assert "'shapes'" in message and str(heads) in message and "pretrain" in message
    assert "\n" not in message
