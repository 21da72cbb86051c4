"""Per-sample merging: linear form vs vmap vs a T-expert ensemble vs one forward.

Each (tower, T) runs in a fresh subprocess that times all methods interleaved (round 0 is a
warm-up; the median of the rest is reported), so a busy machine slows them alike. Peak memory
is one more fresh subprocess per method: it builds only what that method holds (the stacked
experts for linear/vmap, T modules for the ensemble, one for single), resets the kernel's peak
RSS mark (``/proc/self/clear_refs``), runs once and reads ``VmHWM``. Towers are randomly
initialised (speed and memory do not depend on the values).

    python benchmarks/per_sample.py                 # CPU, 2 threads -> benchmarks/per_sample.json
    python benchmarks/per_sample.py --towers RN50-quickgelu --threads 1   # re-run some rows only
    python benchmarks/per_sample.py --device cuda   # bf16 + fp32, batch 256 -> per_sample_gpu.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import open_clip  # imported before the memory baseline, so it is not counted as a method's
import torch

from neulig.dynamic_merge import ExpertStack
from neulig.models import Preprocess, create_clip

ROOT = Path(__file__).resolve().parents[1]
TINY, VITB = "NeuLig-Tiny-ViT-32", "ViT-B-32"
TINY_RN, RN50 = "NeuLig-Tiny-RN", "RN50-quickgelu"
# vmap at ViT-B/32 / RN50 is memory-bound (every input materialises ~350 / ~150 MB of weights);
# T=7 is skipped on CPU to keep the run short, as its per-input cost barely depends on T.
CPU_PLAN = {
    TINY: (256, (2, 5, 7), (2, 5, 7)),
    VITB: (16, (2, 5, 7), (2, 5)),
    TINY_RN: (256, (2, 5, 7), (2, 5, 7)),
    RN50: (16, (2, 5, 7), (2, 5)),
}
# fold / layerwise / auto: the exact linear forms (ExpertStack.forward_per_sample's ``mode``).
# auto is timed for ResNets only: there it picks per layer; for a ViT on CPU it is layerwise.
METHODS = ("fold", "layerwise", "auto", "vmap", "ensemble", "single")
LINEAR = ("fold", "layerwise", "auto")
RESNETS = (TINY_RN, RN50)


def _setup(model: str, n_experts: int, batch: int, device: str, method: str | None = None):
    """Experts, images and betas; for a memory run, only what ``method`` holds."""
    logging.disable(logging.WARNING)  # "no pretrained weights": random towers on purpose
    experts = [create_clip(model, None, seed=s).visual.eval() for s in range(n_experts)]
    size = Preprocess.for_tower(experts[0]).image_size
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, generator=gen)
    betas = torch.softmax(torch.randn(batch, n_experts, generator=gen), -1)
    stack = None
    if method in (None, "vmap", *LINEAR):
        stack = ExpertStack(experts[0], [e.state_dict() for e in experts], device)
    if method in ("vmap", *LINEAR):
        experts = []
    elif method == "single":
        experts = experts[:1]
    for e in experts:
        e.to(device)
    gc.collect()
    return stack, experts, images, betas


def _runners(stack, experts, images, betas, device: str) -> dict:
    prep = Preprocess.for_tower(experts[0] if experts else stack.module)

    @torch.no_grad()
    def forwards(models):
        x = prep(images.to(device))
        return [m(x).float().cpu() for m in models]

    return {
        "fold": lambda: stack.forward_per_sample(betas, images, mode="fold"),
        "layerwise": lambda: stack.forward_per_sample(betas, images, mode="layerwise"),
        "auto": lambda: stack.forward_per_sample(betas, images, mode="auto"),
        "vmap": lambda: stack.forward_per_sample_vmap(betas, images),
        "ensemble": lambda: forwards(experts),
        "single": lambda: forwards(experts[:1]),
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_worker(args) -> dict:
    stack, experts, images, betas = _setup(args.model, args.experts, args.batch, args.device)
    out = {}
    for mode in (m for m in LINEAR if m in args.methods):  # one-time: checks the tower, and
        # fold also concatenates the matrices
        start = time.perf_counter()
        stack._per_sample_tower(mode)
        out[f"{mode}_prepare_s"] = round(time.perf_counter() - start, 3)
    run = _runners(stack, experts, images, betas, args.device)
    times: dict[str, list[float]] = {m: [] for m in args.methods}
    for _ in range(args.repeats + 1):
        for m in args.methods:
            _sync(args.device)
            start = time.perf_counter()
            with _precision(args):
                run[m]()
            _sync(args.device)
            times[m].append(time.perf_counter() - start)
    for m, t in times.items():
        out[f"{m}_s"] = round(statistics.median(t[1:]), 4)
        out[f"{m}_images_per_s"] = round(args.batch / statistics.median(t[1:]), 1)
    for m in args.methods:
        out[f"{m}_vs_ensemble"] = round(out[f"{m}_s"] / out["ensemble_s"], 3)
    if args.device == "cuda":
        out.update(_gpu_memory(args, run))
    return out


def _precision(args):
    if args.device == "cuda" and args.dtype == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _gpu_memory(args, run) -> dict:
    out = {}
    for m in args.methods:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with _precision(args):
            run[m]()
        out[f"{m}_peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _memory_worker(args) -> dict:
    baseline = _status_kib("VmRSS")  # interpreter + torch + open_clip
    stack, experts, images, betas = _setup(
        args.model, args.experts, args.batch, "cpu", args.methods[0]
    )
    if args.methods[0] in LINEAR:
        stack._per_sample_tower(args.methods[0])  # held state (fold: concatenated matrices)
    gc.collect()
    held = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    _runners(stack, experts, images, betas, "cpu")[args.methods[0]]()
    mib = 1 / 1024
    return {
        "baseline_mib": round(baseline * mib),
        "held_mib": round((held - baseline) * mib),
        "peak_mib": round((_status_kib("VmHWM") - baseline) * mib),
    }


def _subprocess(args, worker: str, model: str, n: int, batch: int, methods, dtype="fp32"):
    cmd = [sys.executable, __file__, "--worker", worker, "--model", model, "--experts", str(n)]
    cmd += ["--batch", str(batch), "--methods", ",".join(methods), "--device", args.device]
    cmd += ["--threads", str(args.threads), "--repeats", str(args.repeats), "--dtype", dtype]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    print(f"  {worker} {model} T={n} {methods}: {done.stdout.strip()}", flush=True)
    return json.loads(done.stdout)


def run_cpu(args) -> dict:
    rows = []
    for model in args.towers:
        batch, experts, vmap_experts = CPU_PLAN[model]
        for n in experts:
            methods = [m for m in METHODS if m != "vmap" or n in vmap_experts]
            methods = [m for m in methods if m != "auto" or model in RESNETS]
            row = {"tower": model, "experts": n, "batch": batch}
            if args.towers != list(CPU_PLAN):  # a partial re-run: its rows carry their setting
                row.update(threads=args.threads, load_average_at_start=os.getloadavg())
            row.update(_subprocess(args, "time", model, n, batch, methods))
            for m in methods:
                mem = _subprocess(args, "memory", model, n, batch, [m])
                row.update({f"{m}_{k}": v for k, v in mem.items() if k != "baseline_mib"})
                row["baseline_rss_mib"] = mem.get("baseline_mib")
            if "vmap" not in methods:
                row["vmap"] = "skipped: see CPU_PLAN"
            rows.append(row)
    return {
        "device": "cpu",
        "threads": args.threads,
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "load_average_at_end": os.getloadavg(),
        "memory": "MiB above the interpreter baseline: held = state after setup, "
        "peak = VmHWM during one run (fresh subprocess per method)",
        "rows": rows,
    }


GPU_TOWERS = (TINY, VITB, RN50)
GPU_HOW = (
    "python benchmarks/per_sample.py --device cuda: per row a fresh subprocess times every "
    "method interleaved (median of the repeats after a warm-up), batch 256, random towers; "
    "rows present in the file are kept, so the plan may be filled over several leases"
)


def run_gpu(args, done: list[dict]) -> dict:
    """Every (tower, T, precision) of the GPU plan; rows already in ``done`` are kept as they
    are, so a short device lease can fill the plan over several calls."""
    rows = [r for r in done if "error" not in r]
    have = {(r["tower"], r["experts"], r["precision"]) for r in rows}
    for model in [t for t in args.towers if t in GPU_TOWERS] or GPU_TOWERS:
        for n in (2, 5, 7):
            for dtype in ("bf16", "fp32"):
                if (model, n, dtype) in have:
                    continue
                row = {"tower": model, "experts": n, "batch": 256, "precision": dtype}
                methods = [m for m in METHODS if m != "auto"]  # auto is fold on a GPU
                row.update(_subprocess(args, "time", model, n, 256, methods, dtype))
                rows.append(row)
    order = {t: i for i, t in enumerate(GPU_TOWERS)}
    rows.sort(key=lambda r: (order[r["tower"]], r["experts"], r["precision"]))
    props = torch.cuda.get_device_properties(0)
    device = f"{props.name} ({props.total_memory // 2**20} MiB), torch {torch.__version__}"
    device += f", open_clip {open_clip.__version__}"
    return {"device": device, "repeats": args.repeats, "rows": rows}


def _write(path: Path, update: dict) -> None:
    """Update ``path``; a partial CPU run (``--towers``) replaces only its towers' rows."""
    data = json.loads(path.read_text()) if path.exists() else {}
    new, old = update.get("cpu"), data.get("cpu")
    if isinstance(new, dict) and isinstance(old, dict) and "tower" in new["rows"][0]:
        towers = {r["tower"] for r in new["rows"]}
        if towers != set(CPU_PLAN):
            kept = [r for r in old["rows"] if r["tower"] not in towers]
            update["cpu"] = {**old, "rows": kept + new["rows"]}
    data.update(update)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--towers", type=lambda s: s.split(","), default=list(CPU_PLAN))
    p.add_argument("--worker", choices=("time", "memory"), help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--experts", type=int, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--methods", type=lambda s: s.split(","), help=argparse.SUPPRESS)
    p.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, not TF32
    if args.worker:
        worker = _time_worker if args.worker == "time" else _memory_worker
        print(json.dumps(worker(args)))
        return
    bench = ROOT / "benchmarks"
    if args.device == "cpu":
        no_gpu = "not run: no CUDA device" if not torch.cuda.is_available() else "--device cuda"
        _write(args.out or bench / "per_sample.json", {"cpu": run_cpu(args), "gpu": no_gpu})
    elif not torch.cuda.is_available():
        _write(args.out or bench / "per_sample.json", {"gpu": "not run: no CUDA device"})
    else:
        path = args.out or bench / "per_sample_gpu.json"
        done = json.loads(path.read_text())["gpu"]["rows"] if path.exists() else []
        _write(path, {"gpu": {**run_gpu(args, done), "how": GPU_HOW}})


if __name__ == "__main__":
    main()
