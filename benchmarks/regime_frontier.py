"""Which offline world makes the miniature rank the methods as the NeuLig paper's Table 2(b)?

Each variant pretrains a CLIP (on the tasks' own pretrain slices, or on the broad captioned
world of :mod:`neulig.data.world`), fine-tunes one expert per task, and scores every Table 2(b)
row through the project's own functions: zero-shot, experts, averaging, task arithmetic and TIES
(scaling chosen on val), RegMean, Fisher, AdaMerging (task, layer), WeMoE, and NeuLig over all
experts with the supervised and the semi (entropy) loss. It writes one JSON line per variant
and seed, with Kendall tau against the paper. Variants run as parallel processes.

    python benchmarks/regime_frontier.py --data data --out benchmarks/regime_frontier.jsonl
    python benchmarks/regime_frontier.py --only world-small --seeds 0 1 2 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = ["digits", "mnist", "shapes", "gratings", "letters"]
# Table 2(b), CLIP ViT-B/32, task averages; the eight rows Kendall tau ranks.
PAPER = {
    "average": 78.19,
    "task_arithmetic": 78.68,
    "ties": 80.80,
    "regmean": 83.16,
    "adamerging_layer": 88.65,
    "wemoe": 89.76,
    "neulig_supervised": 95.37,
    "neulig_semi": 95.44,
}
TINY = {"width": 64, "layers": 2, "patch_size": 4, "head_width": 32, "mlp_ratio": 2.0}
SMALL = {"width": 128, "layers": 4, "patch_size": 8, "head_width": 32, "mlp_ratio": 4.0}
# Twice as wide with a quarter of the tokens (2x2 patches + class): about SMALL's compute.
WIDE_P16 = {"width": 256, "layers": 4, "patch_size": 16, "head_width": 64, "mlp_ratio": 4.0}
# Wider and deeper with SMALL's tokens: about 3.4x its compute, the most a CPU row affords.
DEEP = {"width": 192, "layers": 6, "patch_size": 8, "head_width": 32, "mlp_ratio": 4.0}
TEXT = {"width": 64, "heads": 2, "layers": 2}
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


def _v(name, tower=TINY, embed=64, pretrain=None, expert=None, text=None, router=None, **extra):
    return {
        **extra,
        "name": name,
        "tower": tower,
        "embed_dim": embed,
        "pretrain": {**PRETRAIN, **(pretrain or {})},
        "expert": {**EXPERT, **(expert or {})},
        "text": {**TEXT, **(text or {})},
        "router": router or {},  # NeuLig settings over the offline default's
    }


WORLD = {"steps": 2500, "warmup_steps": 125, "batch_size": 128, "world": {"n": 30000}}


def world(**keys) -> dict:
    """WORLD's pretraining with these ``pretrain.world`` keys changed."""
    return {**WORLD, "world": {**WORLD["world"], **keys}}


# The world's stripes at the gratings task's 15-degree steps (at 30 six of its twelve class
# names are never a caption).
WORLD15 = world(stripe_step=15)
# Twice the pretraining on a pool twice as large.
LONG = {**world(n=60000), "steps": 5000, "warmup_steps": 250}
NO_LETTERS = [t for t in TASKS if t != "letters"]
# The NeuLig paper's router recipe (temperature 1, Adam lr 1e-3, longer), over the default's.
PAPER_ROUTER = {"temperature": 1.0, "lr": 1e-3, "steps": 600, "eval_every": 50}


def _paper_router(name, pretrain=WORLD, expert=None, tower=SMALL, embed=128, **extra):
    """A world variant of the best setting (expert lr 1e-3) scored with PAPER_ROUTER."""
    return _v(
        name, tower, embed, pretrain, {"lr": 1e-3, **(expert or {})}, router=PAPER_ROUTER, **extra
    )


VARIANTS = [
    # The offline default before the world (task-slice pretraining), for the record.
    _v("default"),
    # The broad world: pretraining never sees the tasks' images. Variants that share a tower
    # and pretraining recipe share one pretrained CLIP (--cache).
    _v("world-small-lr1e-4", SMALL, 128, WORLD, {"lr": 1e-4}),
    _v("world-small-lr3e-4", SMALL, 128, WORLD, {"lr": 3e-4}),
    _v("world-small-lr3e-5", SMALL, 128, WORLD, {"lr": 3e-5}),
    _v("world-small-lr1e-3", SMALL, 128, WORLD, {"lr": 1e-3}),
    _v(
        "world-small-lr3e-4-s100", SMALL, 128, WORLD, {"lr": 3e-4, "steps": 100, "warmup_steps": 10}
    ),
    _v(
        "world-small-paper-recipe",
        SMALL,
        128,
        WORLD,
        {"lr": 3e-4, "grad_clip": 1.0, "augment": "random_resized_crop"},
    ),
    _v(
        "world+tasks-small-lr3e-4",
        SMALL,
        128,
        world(task_slices=True),
        {"lr": 3e-4},
    ),
    # A share of the tasks' slices: zero-shot between the world's and the full slices'.
    *[
        _v(
            f"world+tasks{share}-small-lr{lr}",
            SMALL,
            128,
            world(task_slices=share),
            {"lr": float(lr)},
        )
        for share, lr in [(0.1, "3e-4"), (0.3, "3e-4"), (0.3, "1e-4")]
    ],
    _v("world-tiny-lr1e-3", TINY, 64, WORLD, {"lr": 1e-3}),
    # The best setting with the paper's router recipe (temperature 1, Adam lr 1e-3, longer),
    # and with L2-normalised router inputs: does the semi router then route?
    _paper_router("world-small-lr1e-3-router-paper"),
    _v(
        "world-small-lr1e-3-router-norm",
        SMALL,
        128,
        WORLD,
        {"lr": 1e-3},
        router={"normalize": True},
    ),
    # The world's stripes at the gratings task's 15-degree steps: every gratings class name is
    # then a caption pretraining saw (at 30-degree steps six of its twelve are not, and the
    # head's closest classes embed at cosine 0.995).
    _paper_router("world15-small-lr1e-3-router-paper", WORLD15),
    # The heads' logit scale (the experts train through it): OpenAI's CLIP sits at the clamp,
    # 100; the world's 2,500 steps reach 23.9. Does it decide how confidently wrong the experts
    # are on other tasks' inputs? (The pretrained weights are the same.)
    *[
        _paper_router(
            f"world-small-scale{scale}-lr{lr}", expert={"lr": float(lr)}, logit_scale=float(scale)
        )
        for scale, lr in [
            (100, "1e-3"),
            (100, "3e-4"),
            (15, "1e-3"),
            (10, "1e-3"),
            (7, "1e-3"),
            (5, "1e-3"),
        ]
    ],
    # The 15-degree world at scale 10: every gratings class name was a caption, and the
    # experts are no more confident off their task than on it.
    _paper_router("world15-small-scale10-lr1e-3", WORLD15, logit_scale=10.0),
    # A quarter of the world's glyphs at 8x8 pixels, blown up ("blurry"): scikit-learn's 8x8
    # digits are then a guise the CLIP has seen, and their zero-shot leaves chance (9 %), where
    # entropy minimisation only sharpens a collapsed prediction.
    _paper_router("world-lowres-small-lr1e-3-router-paper", world(low_res=0.25)),
    # Wider, with fewer tokens: are task vectors of a wider tower less in each other's way?
    _paper_router("world-wide-p16-lr1e-3-router-paper", tower=WIDE_P16),
    # Without the digits task (zero-shot at chance in every world): do the entropy-trained
    # merges rise above task arithmetic once no task's prediction is collapsed?
    _paper_router(
        "world-small-lr1e-3-router-paper-no-digits", tasks=[t for t in TASKS if t != "digits"]
    ),
    # Without the letters task, the expert every entropy-trained method leans on (it is the
    # most confident on other tasks' inputs, and the one that misleads digits or shapes):
    # on the 2,500- and the 5,000-step CLIP.
    _paper_router("world-small-lr1e-3-router-paper-no-letters", tasks=NO_LETTERS),
    _paper_router(
        "world-long-small-lr1e-3-router-paper-no-letters",
        LONG,
        tasks=NO_LETTERS,
    ),
    # WeMoE trained ten times longer (the original's 1,000 steps): do its per-input routers
    # then route each task's inputs to that task's expert, as the semi router does without
    # letters, or only lower the entropy further?
    *(
        _paper_router(f"{name}-wemoe1000", tasks=tasks, merge={"wemoe": {"steps": 1000}})
        for name, tasks in [
            ("world-small-lr1e-3-router-paper", TASKS),
            ("world-small-lr1e-3-router-paper-no-letters", NO_LETTERS),
        ]
    ),
    # Experts trained past the point where accuracy saturates (the paper's run thousands of
    # steps): does a fraction of a longer task vector keep more of its gain?
    _paper_router("world-small-lr1e-3-s1000-router-paper", expert={"steps": 1000}),
    # Experts trained with label smoothing: less confident where they are wrong, so that lower
    # entropy may mean a right answer for the entropy-trained methods?
    *(
        _paper_router(f"world-small-lr1e-3-ls{ls}-router-paper", expert={"label_smoothing": ls})
        for ls in (0.1, 0.3)
    ),
    # Twice the pretraining on a pool twice as large: task vectors of real CLIPs grow less
    # entangled the longer the pretraining; does the miniature's?
    _paper_router(
        "world-long-small-lr1e-3-router-paper",
        LONG,
    ),
    # A wider joint space and text tower: the five heads' class embeddings further apart, so
    # that one task's expert is less sure of another task's classes?
    _paper_router(
        "world-small-embed256-text128-lr1e-3-router-paper",
        embed=256,
        text={"width": 128, "heads": 4, "layers": 2},
    ),
    # A wider, deeper tower (CPU-sized): is the entropy objective still minimised at wrong
    # answers once the tower has more room?
    _paper_router("world-deep-w192-L6-lr1e-3-router-paper", tower=DEEP, embed=192),
    _v("world-smoke", TINY, 64, {"steps": 20, "world": {"n": 600}}, {"steps": 10}),
]


def _register(variant: dict, folder: str) -> str:
    from neulig.models import _open_clip

    name = f"Frontier-{variant['name']}"
    cfg = {
        "embed_dim": variant["embed_dim"],
        "quick_gelu": True,
        "vision_cfg": {"image_size": 32, **variant["tower"]},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, **variant["text"]},
    }
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps(cfg))
    _open_clip().add_model_config(path)
    return name


def _config() -> dict:
    """The offline default's merge and router settings (schema defaults filled in)."""
    from neulig.config import load_config

    root = Path(__file__).resolve().parents[1]
    return load_config(root / "config/config.yaml", root / "workflow/schemas/config.schema.yaml")


class Scorer:
    """Test accuracy of vision towers through the tasks' zero-shot heads."""

    def __init__(self, model, heads, tasks, device):
        self.model, self.heads, self.tasks, self.device = model, heads, tasks, device

    def features(self, state) -> dict:
        from neulig.evaluate import encode_tasks

        tower = copy.deepcopy(self.model.visual)
        tower.load_state_dict(state)
        return encode_tasks(tower, self.tasks, self.device)

    def test(self, state) -> dict:
        from neulig.evaluate import model_records

        rows = model_records("pretrained", self.features(state), self.heads)
        return {r.task: round(r.accuracy, 2) for r in rows}


def _pretrained_clip(variant, arch, tasks, seed, device, cache: Path):
    """The variant's pretrained CLIP, from ``cache`` when an earlier variant trained the same
    tower with the same recipe (expert-recipe variants then cost only their experts)."""
    import hashlib

    from neulig import io
    from neulig.models import create_clip
    from neulig.pretrain import pretrain_clip, pretraining_pool

    recipe = {**variant["pretrain"], "seed": seed}
    key = json.dumps(
        [variant["tower"], variant["embed_dim"], variant["text"], recipe], sort_keys=True
    )
    path = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"
    if path.exists():
        model = create_clip(arch, pretrained=None)
        model.load_state_dict(io.load_tensors(path))
        return model
    model = pretrain_clip(pretraining_pool(arch, recipe, tasks), arch, recipe, device).cpu()
    cache.mkdir(parents=True, exist_ok=True)
    io.save_tensors(path, model.state_dict())
    return model


def _pretrain(variant, data, seed, device, folder, cache):
    from neulig import io
    from neulig.data.packed import load_task
    from neulig.models import build_head, create_tokenizer

    arch = _register(variant, folder)
    names = variant.get("tasks", TASKS)
    dirs = {t: str(Path(data) / t) for t in names}
    tasks = [load_task(dirs[t], splits=("pretrain", "train", "val", "test")) for t in names]
    model = _pretrained_clip(variant, arch, tasks, seed, device, cache)
    if "logit_scale" in variant:  # the heads' (and so the experts' training) temperature
        model.logit_scale.data.fill_(math.log(variant["logit_scale"]))
    tokenizer = create_tokenizer(arch)
    heads = {t.name: build_head(model, tokenizer, t.classnames, t.templates) for t in tasks}
    flat = {f"{k}/{n}": v for k, h in heads.items() for n, v in h.to_tensors().items()}
    io.save_tensors(Path(folder) / "heads.safetensors", flat)
    for t in tasks:
        del t.splits["pretrain"]
    return arch, dirs, tasks, model, heads


def _merges(ctx, scorer, config, methods) -> tuple[dict, dict, dict]:
    from neulig.catalogue import merge_method
    from neulig.merging.evaluation import per_input_merge_records, per_task_records
    from neulig.merging.search import merge_with_search

    rows, chosen, entropy = {}, {}, {}
    for method in methods or config["merge"]["methods"]:
        ctx.diagnostics.clear()
        p = config["merge"].get(method, {})
        if merge_method(method).per_task:  # one model per task (TALL, EMR): no merged state
            records, _ = per_task_records(method, ctx, p, scorer.heads)
            rows[method] = {r.task: round(r.accuracy, 2) for r in records}
            continue
        merged, hparams, _ = merge_with_search(
            method, ctx, p.get("hparams", {}), p.get("search", {})
        )
        chosen[method] = hparams.get("scaling")
        if "entropy" in ctx.diagnostics:  # the learned methods' pooled entropy, before/after
            entropy[method] = {k: round(v, 3) for k, v in ctx.diagnostics["entropy"].items()}
        if merge_method(method).per_input:
            records, _ = per_input_merge_records(method, ctx, merged, scorer.heads)
            rows[method] = {r.task: round(r.accuracy, 2) for r in records}
        else:
            rows[method] = scorer.test(merged)
    return rows, chosen, entropy


def _neulig(arch, states, cached, scorer, config, seed, device, router) -> dict:
    from neulig.ligand.run import run_neulig

    base = {
        k: v for k, v in config["neulig"].items() if k not in ("min_models", "max_combinations")
    } | router
    rows = {}
    for loss in ("supervised", "semi"):
        params = {**base, "loss": loss, "seed": seed, "device": str(device)}
        result = run_neulig(
            "+".join(t.name for t in scorer.tasks),
            states,
            arch,
            cached,
            {t.name: t for t in scorer.tasks},
            scorer.heads,
            params,
            device,
        )
        for r in result.records:
            if r.method in ("neulig_merge_per_sample", "neulig_ensemble"):
                level = "merge" if r.level == "merge" else "ensemble"
                rows.setdefault(f"neulig_{loss}_{level}", {})[r.task] = round(r.accuracy, 2)
    return rows


def run_variant(variant, data, seed, device, progress, cache: Path, methods=()) -> dict:
    from scipy.stats import kendalltau

    from neulig.finetune import train_expert
    from neulig.merging import MergeContext
    from neulig.reporting.confidence import confidence_table, misled_tasks

    start, folder, config = time.time(), tempfile.mkdtemp(), _config()
    for method, hparams in variant.get("merge", {}).items():  # a method's recipe, changed
        config["merge"][method]["hparams"] = {**config["merge"][method]["hparams"], **hparams}
    arch, dirs, tasks, model, heads = _pretrain(variant, data, seed, device, folder, cache)
    scorer = Scorer(model, heads, tasks, device)
    pretrained = {k: v.clone() for k, v in model.visual.state_dict().items()}
    experts = {}
    for task in tasks:
        recipe = {**variant["expert"], "seed": seed}
        visual, _ = train_expert(
            task, heads[task.name], copy.deepcopy(model.visual), recipe, device, None
        )
        experts[task.name] = visual.state_dict()
    cached = [scorer.features(state) for state in experts.values()]
    confidence = confidence_table(dict(zip(experts, cached, strict=True)), heads)
    rows = {"zero_shot": scorer.test(pretrained)}
    rows["experts"] = {t: scorer.test(state)[t] for t, state in experts.items()}
    progress(rows)
    ctx = MergeContext(
        pretrained, experts, arch, dirs, Path(folder) / "heads.safetensors", device, seed
    )
    merges, chosen, entropy = _merges(ctx, scorer, config, methods)
    rows.update(merges)
    progress(rows)
    states = list(experts.values())
    rows.update(
        _neulig(arch, states, cached, scorer, config, seed, device, variant.get("router", {}))
    )
    avg = {m: round(sum(r.values()) / len(r), 2) for m, r in rows.items()}
    ranked = {"neulig_supervised": "neulig_supervised_merge", "neulig_semi": "neulig_semi_merge"}
    ours = [avg[ranked.get(m, m)] for m in PAPER]
    return {
        "variant": variant["name"],
        "seed": seed,
        "device": str(device),
        "average": avg,
        "tau": round(float(kendalltau(ours, list(PAPER.values())).statistic), 3),
        "scaling": chosen,
        "entropy": entropy,
        "misled": misled_tasks(confidence),
        "confidence": {
            f"{i}<-{e}": v for (i, e), v in confidence.round(3).to_dict("index").items()
        },
        "tasks": rows,
        "wall_s": round(time.time() - start, 1),
        "config": variant,
    }


def _single(args) -> None:
    import torch

    from neulig.models import resolve_device

    torch.set_num_threads(args.threads)
    variant = next(v for v in VARIANTS if v["name"] == args.only[0])
    partial = Path(args.out).with_name(f"{variant['name']}-s{args.seeds[0]}.partial.json")

    def progress(rows):
        partial.write_text(json.dumps(rows))

    device = resolve_device(args.device)
    row = run_variant(
        variant, args.data, args.seeds[0], device, progress, Path(args.cache), args.methods
    )
    with open(args.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    partial.unlink(missing_ok=True)
    print(row["variant"], row["seed"], row["tau"], json.dumps(row["average"]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--out", default="benchmarks/regime_frontier.jsonl")
    parser.add_argument("--only", nargs="*", help="variant names (default: all, in parallel)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache", default="benchmarks/.frontier_cache", help="pretrained CLIPs")
    parser.add_argument("--methods", nargs="*", default=[], help="merges (default: the config's)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        return _single(args)
    names = args.only or [v["name"] for v in VARIANTS if v["name"] != "world-smoke"]
    common = [
        "--data",
        args.data,
        "--out",
        args.out,
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--cache",
        args.cache,
        "--methods",
        *args.methods,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--single", "--only", n, "--seeds", str(s), *common], env=env
        )
        for s in args.seeds
        for n in names
    ]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
