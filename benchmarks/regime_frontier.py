"""Which offline setting reaches the paper's ViT-B/32 regime? (zero-shot < averaging < TA < TIES
< experts on the task average). Each variant pretrains a CLIP on the tasks' pretrain slices,
fine-tunes one expert per task, merges them with averaging, task arithmetic and TIES (scaling
chosen on val, as the workflow does) and scores everything on test. Variants run as parallel
subprocesses; each appends one JSON line to the output as soon as it finishes.

    python benchmarks/regime_frontier.py --data data --out benchmarks/regime_frontier.jsonl
    python benchmarks/regime_frontier.py --only wide-lr1e-4 --threads 2   # one variant
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = ["digits", "mnist", "shapes", "gratings", "letters"]
TINY = {"width": 64, "layers": 2, "patch_size": 4, "head_width": 32, "mlp_ratio": 2.0}
WIDE = {"width": 256, "layers": 4, "patch_size": 8, "head_width": 64, "mlp_ratio": 4.0}
PRETRAIN = {"steps": 300, "batch_size": 128, "lr": 1e-3, "weight_decay": 0.1, "warmup_steps": 30}
EXPERT = {
    "steps": 300,
    "batch_size": 64,
    "lr": 1e-3,
    "weight_decay": 0.1,
    "warmup_steps": 50,
    "grad_clip": 0.0,
    "augment": "none",
}


def _v(name, tower=TINY, embed=64, pretrain=None, expert=None):
    return {
        "name": name,
        "tower": tower,
        "embed_dim": embed,
        "pretrain": {**PRETRAIN, **(pretrain or {})},
        "expert": {**EXPERT, **(expert or {})},
    }


VARIANTS = [
    _v("default"),
    _v("default-pre2000-lr1e-4", pretrain={"steps": 2000}, expert={"lr": 1e-4}),
    _v("wide-lr1e-4", WIDE, 128, {"steps": 1000}, {"lr": 1e-4}),
    _v("wide-lr3e-5", WIDE, 128, {"steps": 1000}, {"lr": 3e-5}),
    _v("wide-pre3000-lr1e-4", WIDE, 128, {"steps": 3000}, {"lr": 1e-4}),
    _v("wide-pre3000-lr3e-5", WIDE, 128, {"steps": 3000}, {"lr": 3e-5}),
    _v("wide-p4-lr1e-4", {**WIDE, "patch_size": 4}, 128, {"steps": 1000}, {"lr": 1e-4}),
    _v("mid-lr1e-4", {**WIDE, "width": 128, "head_width": 32}, 128, {"steps": 1000}, {"lr": 1e-4}),
    _v("wide-pre3000-lr1e-5", WIDE, 128, {"steps": 3000}, {"lr": 1e-5}),
    _v("wide-pre3000-lr3e-4", WIDE, 128, {"steps": 3000}, {"lr": 3e-4}),
    _v("wide6-pre3000-lr3e-5", {**WIDE, "layers": 6}, 128, {"steps": 3000}, {"lr": 3e-5}),
    _v("wide-pre3000-lr1e-4-s1000", WIDE, 128, {"steps": 3000}, {"lr": 1e-4, "steps": 1000}),
]


def _register(variant: dict, folder: str) -> str:
    from neulig.models import _open_clip

    name = f"Frontier-{variant['name']}"
    cfg = {
        "embed_dim": variant["embed_dim"],
        "quick_gelu": True,
        "vision_cfg": {"image_size": 32, **variant["tower"]},
        "text_cfg": {
            "context_length": 16,
            "vocab_size": 49408,
            "width": 64,
            "heads": 2,
            "layers": 2,
        },
    }
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps(cfg))
    _open_clip().add_model_config(path)
    return name


def run_variant(variant: dict, data: str, seed: int, device) -> dict:
    from neulig import io
    from neulig.data.packed import load_task
    from neulig.evaluate import accuracy
    from neulig.finetune import train_expert
    from neulig.merging import MergeContext
    from neulig.merging.search import merge_with_search
    from neulig.models import build_head, create_tokenizer, encode_images
    from neulig.pretrain import pretrain_clip

    start = time.time()
    folder = tempfile.mkdtemp()
    arch = _register(variant, folder)
    dirs = {t: str(Path(data) / t) for t in TASKS}
    tasks = [load_task(dirs[t], splits=("pretrain", "train", "val", "test")) for t in TASKS]
    model = pretrain_clip(tasks, arch, {**variant["pretrain"], "seed": seed}, device).cpu()
    tokenizer = create_tokenizer(arch)
    heads = {t.name: build_head(model, tokenizer, t.classnames, t.templates) for t in tasks}
    flat = {f"{k}/{n}": v for k, h in heads.items() for n, v in h.to_tensors().items()}
    io.save_tensors(Path(folder) / "heads.safetensors", flat)
    pretrained = {k: v.clone() for k, v in model.visual.state_dict().items()}
    experts = {}
    for task in tasks:
        visual, _ = train_expert(
            task,
            heads[task.name],
            copy.deepcopy(model.visual),
            {**variant["expert"], "seed": seed},
            device,
            None,
        )
        experts[task.name] = visual.state_dict()

    def test(state) -> dict:
        tower = copy.deepcopy(model.visual)
        tower.load_state_dict(state)
        return {
            t.name: round(
                accuracy(
                    heads[t.name](
                        encode_images(tower, t.splits["test"].tensors()[0], device=device)
                    ),
                    t.splits["test"].tensors()[1],
                ),
                2,
            )
            for t in tasks
        }

    ctx = MergeContext(
        pretrained, experts, arch, dirs, Path(folder) / "heads.safetensors", device, seed
    )
    rows = {"zero_shot": test(pretrained)}
    rows["experts"] = {t: test(experts[t])[t] for t in TASKS}
    searches = {
        "average": ({}, {}),
        "task_arithmetic": ({}, {"scaling": [0.1, 0.2, 0.3, 0.5, 0.7, 1.0]}),
        "ties": ({"density": 0.2, "merge_func": "mean"}, {"scaling": [0.4, 0.7, 1.0, 1.5]}),
    }
    chosen = {}
    for method, (hp, grid) in searches.items():
        merged, hparams, _ = merge_with_search(method, ctx, hp, grid)
        rows[method] = test(merged)
        chosen[method] = hparams.get("scaling")
    avg = {m: round(sum(r.values()) / len(r), 2) for m, r in rows.items()}
    order = ["zero_shot", "average", "task_arithmetic", "ties", "experts"]
    holds = all(avg[a] < avg[b] for a, b in itertools.pairwise(order))
    return {
        "variant": variant["name"],
        "seed": seed,
        "device": str(device),
        "average": avg,
        "scaling": chosen,
        "regime_holds": holds,
        "tasks": rows,
        "wall_s": round(time.time() - start, 1),
        "config": variant,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--out", default="benchmarks/regime_frontier.jsonl")
    parser.add_argument("--only", nargs="*", help="variant names (default: all, in parallel)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only or [v["name"] for v in VARIANTS]
    if args.single:
        import torch

        from neulig.models import resolve_device

        torch.set_num_threads(args.threads)
        variant = next(v for v in VARIANTS if v["name"] == names[0])
        row = run_variant(variant, args.data, args.seeds[0], resolve_device(args.device))
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row["average"]), row["regime_holds"], row["wall_s"], flush=True)
        return
    jobs = [(n, s) for s in args.seeds for n in names]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--single",
                "--only",
                n,
                "--seeds",
                str(s),
                "--data",
                args.data,
                "--out",
                args.out,
                "--threads",
                str(args.threads),
                "--device",
                args.device,
            ],
            env={**os.environ, "OMP_NUM_THREADS": str(args.threads)},
        )
        for n, s in jobs
    ]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
