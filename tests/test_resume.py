"""In-job resume: a fine-tuning job killed with SIGKILL continues from its training state and
ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from neulig import io
from neulig.data.prepare import prepare_task
from neulig.models import Head, create_clip

from .conftest import TINY

PARAMS = {
    "steps": 60,
    "batch_size": 16,
    "lr": 1e-3,
    "weight_decay": 0.1,
    "warmup_steps": 5,
    "seed": 0,
    "device": "cpu",
    "checkpoint_every": 5,
    "grad_clip": 1.0,  # the paper's recipe: the crops are drawn per step, so a resumed run
    "augment": "random_resized_crop",  # must draw the same ones
}


def finetune_cmd(tmp: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "neulig.cli",
        "finetune",
        "--threads",
        "1",
        "--params",
        json.dumps(PARAMS),
        "--data",
        str(tmp / "data"),
        "--pretrained",
        str(tmp / "pre.safetensors"),
        "--heads",
        str(tmp / "heads.safetensors"),
        "--out",
        str(out),
    ]


def test_killed_finetune_resumes_to_identical_weights(tmp_path):
    spec = {"source": "shapes", "n": 120, "splits": {"test": 20, "val": 20}}
    prepare_task("toy", spec, 0, tmp_path / "data")
    visual = create_clip(TINY, None).visual
    io.save_checkpoint(tmp_path / "pre.safetensors", visual.state_dict(), {"architecture": TINY})
    head = Head(torch.nn.functional.normalize(torch.randn(8, 64), dim=-1), 10.0)
    io.save_tensors(
        tmp_path / "heads.safetensors", {f"toy/{k}": v for k, v in head.to_tensors().items()}
    )

    reference = tmp_path / "reference.safetensors"
    subprocess.run(finetune_cmd(tmp_path, reference), check=True, capture_output=True)

    resumed = tmp_path / "resumed.safetensors"
    state = resumed.with_suffix(".state.pt")
    job = subprocess.Popen(
        finetune_cmd(tmp_path, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and job.poll() is None:
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert state.exists() and not resumed.exists(), "the job must die mid-training"
    killed_at = torch.load(state, weights_only=True)["step"]
    assert 0 < killed_at < PARAMS["steps"]

    log = subprocess.run(
        finetune_cmd(tmp_path, resumed), check=True, capture_output=True, text=True
    )
    assert f"resuming at step {killed_at}" in log.stderr
    assert not state.exists()  # cleaned up once the job finished
    a, info_a = io.load_checkpoint(reference)
    b, info_b = io.load_checkpoint(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert info_a["metrics"] == info_b["metrics"]
