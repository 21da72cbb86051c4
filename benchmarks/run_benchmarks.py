"""Benchmarks quoted in benchmarks/README.md; results go to ``benchmarks/results.json``.

1. Fine-tune loop throughput (images/s) of :func:`neulig.finetune.finetune_expert` against a bare
   PyTorch loop on the same model, batch and optimiser (target: >= 0.9x).
2. ``--workflow``: wall time of the default workflow from nothing in a fresh clone of this
   commit (``snakemake --cores 2``), each rule's summed job time, and a no-op dry run.
3. ``--dvc-status``: wall time of ``dvc status`` in this repository after a finished run.

Usage: ``python benchmarks/run_benchmarks.py [--workflow] [--dvc-status] [--skip-throughput]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from neulig.finetune import finetune_expert
from neulig.models import Head, Preprocess, create_clip

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results.json"


def bare_loop(visual, head, images, labels, steps, batch_size):
    prep = Preprocess.for_tower(visual)
    optimizer = torch.optim.AdamW(visual.parameters(), lr=1e-3, weight_decay=0.1)
    visual.train()
    for step in range(steps):
        idx = torch.arange(step * batch_size, (step + 1) * batch_size) % len(images)
        logits = head.scale * F.normalize(visual(prep(images[idx])), dim=-1) @ head.weight.T
        loss = F.cross_entropy(logits, labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def throughput(steps: int = 60, batch_size: int = 64, repeats: int = 3) -> dict:
    images = torch.randint(0, 256, (2048, 32, 32, 3), dtype=torch.uint8)
    labels = torch.randint(0, 10, (2048,))
    head = Head(F.normalize(torch.randn(10, 64), dim=-1), 15.0)
    params = {
        "lr": 1e-3,
        "weight_decay": 0.1,
        "batch_size": batch_size,
        "steps": steps,
        "warmup_steps": 5,
        "seed": 0,
        "grad_clip": 0,  # the tiny default's recipe (the schema's defaults)
        "augment": "none",
    }
    timings = {"bare": [], "neulig": []}
    for _ in range(repeats):  # interleaved, best of n: robust to a busy machine
        for name in timings:
            visual = create_clip("NeuLig-Tiny-ViT-32", None).visual
            start = time.perf_counter()
            if name == "bare":
                bare_loop(visual, head, images, labels, steps, batch_size)
            else:
                finetune_expert(visual, head, images, labels, params, torch.device("cpu"))
            timings[name].append(time.perf_counter() - start)
    rate = {k: steps * batch_size / min(v) for k, v in timings.items()}
    return {
        "images_per_s_bare": round(rate["bare"], 1),
        "images_per_s_neulig": round(rate["neulig"], 1),
        "ratio": round(rate["neulig"] / rate["bare"], 3),
        "steps": steps,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
    }


def timed(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return round(time.perf_counter() - start, 1)


def _job_seconds(work: Path) -> tuple[int, dict[str, float]]:
    """The number of jobs and each rule's summed job wall time, from the rules' Snakemake
    ``benchmark:`` files."""
    files = list((work / "benchmarks" / "rules").glob("*/*/**/*.tsv"))
    sums: dict[str, float] = {}
    for tsv in files:
        rule = tsv.relative_to(work / "benchmarks" / "rules").parts[1]
        seconds = float(tsv.read_text().splitlines()[1].split("\t")[0])
        sums[rule] = round(sums.get(rule, 0.0) + seconds, 1)
    return len(files), dict(sorted(sums.items(), key=lambda kv: -kv[1]))


def workflow_times(keep: Path | None, configfile: str | None = None) -> dict:
    """``snakemake --cores 2`` in a fresh clone of this commit (``make run`` minus the venv set-up),
    then a no-op dry run; ``keep``: the clone stays there (its reports feed ``make docs``);
    ``configfile``: another experiment than the default (e.g. ``config/full.yaml``)."""
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "2"]
    if configfile:
        snakemake += ["--configfile", configfile]
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=work, capture_output=True, text=True
        ).stdout.strip()
        full = timed(snakemake, work)
        noop = timed([*snakemake, "-n"], work)
        jobs, seconds = _job_seconds(work)
    return {
        "wall_s": full,
        "timed_jobs": jobs,
        "job_seconds_by_rule": seconds,
        "noop_dry_run_s": noop,
        "commit": commit,
        "how": f"git clone; {' '.join(['snakemake', *snakemake[3:]])} (make run minus the venv "
        "set-up), 2-core machine",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", action="store_true", help="also time the whole workflow")
    parser.add_argument("--dvc-status", action="store_true", help="time `dvc status` here")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="with --workflow: keep the run's clone here")
    parser.add_argument(
        "--configfile", help="with --workflow: time this experiment (key workflow_<its stem>)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if not args.skip_throughput:
        results["finetune_throughput"] = throughput()
    if args.dvc_status:
        results["dvc_status_s"] = timed([str(Path(sys.executable).parent / "dvc"), "status"], ROOT)
    if args.workflow:
        key = f"workflow_{Path(args.configfile).stem}" if args.configfile else "workflow"
        results[key] = workflow_times(args.keep, args.configfile)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
