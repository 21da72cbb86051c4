"""The workflow steps behind the CLI: read inputs, call package functions, write outputs."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from neulig import io
from neulig.data.packed import load_task
from neulig.evaluate import accuracy, evaluate_features, load_heads, record
from neulig.io import ConfigError
from neulig.models import (
    build_head,
    create_tokenizer,
    encode_images,
    load_vision_tower,
    resolve_device,
)
from neulig.training import TrainState

log = logging.getLogger(__name__)


def _device(args) -> torch.device:
    return resolve_device(args.params.get("device", "auto"))


def _state_path(out: str) -> Path:
    """The in-job resume checkpoint of a training step: beside its output, not an output."""
    return Path(out).with_suffix(".state.pt")


def download(args) -> None:
    """Materialise one task's dataset in the packed format (offline sources or local files)."""
    from neulig.data.prepare import prepare_task

    prepare_task(args.task, args.params["spec"], args.params["seed"], args.out)


def pretrain(args) -> None:
    """Provide the shared pretrained CLIP: vision tower checkpoint plus zero-shot heads."""
    from neulig.pretrain import load_pretrained, pretrain_clip

    p = args.params
    tags_for_scratch = (None, "", "none", "scratch")
    if p["pretrained"] in tags_for_scratch:
        tasks = [load_task(d, splits=("pretrain",)) for d in args.data]
        state = TrainState(_state_path(args.out), p["recipe"].get("checkpoint_every", 100))
        model = pretrain_clip(tasks, p["model"], p["recipe"], _device(args), state)
    else:
        tasks = [load_task(d, splits=()) for d in args.data]
        model = load_pretrained(p["model"], p["pretrained"])
    model = model.cpu().eval()
    tokenizer = create_tokenizer(p["model"])
    heads = {}
    for task in tasks:
        head = build_head(model, tokenizer, task.classnames, task.templates)
        heads.update({f"{task.name}/{k}": v for k, v in head.to_tensors().items()})
    io.save_tensors(args.out_heads, heads)
    info = {"architecture": p["model"], "pretrained": p["pretrained"] or "scratch", "task": None}
    io.save_checkpoint(args.out, model.visual.state_dict(), info)
    text = {k: v for k, v in model.state_dict().items() if not k.startswith("visual.")}
    io.save_tensors(args.out_text, text)


def pretrain_vision(args) -> None:
    """Pretrain an independently initialised vision tower against a frozen, shared text tower."""
    from neulig.pretrain import pretrain_clip

    p = args.params
    tasks = [load_task(d, splits=("pretrain",)) for d in args.data]
    text = io.load_tensors(args.text)
    state = TrainState(_state_path(args.out), p["recipe"].get("checkpoint_every", 100))
    model = pretrain_clip(tasks, p["model"], p["recipe"], _device(args), state, locked_text=text)
    info = {
        "architecture": p["model"],
        "pretrained": f"scratch-seed{p['recipe']['seed']}",
        "task": None,
        "text_tower": str(args.text),
    }
    io.save_checkpoint(args.out, model.visual.cpu().state_dict(), info)


def finetune(args) -> None:
    """Fine-tune one expert's vision tower on its task with the frozen zero-shot head."""
    from neulig.finetune import finetune_expert

    if args.params.get("import_from"):
        return import_expert(args)
    task = load_task(args.data, splits=("train", "val"))
    heads = load_heads(io.load_tensors(args.heads))
    if task.name not in heads:
        raise io.ArtifactError(f"{args.heads}: no head for task '{task.name}'; rerun pretrain")
    head = heads[task.name]
    device = _device(args)
    visual = load_vision_tower(args.pretrained, device)
    images, labels = task.splits["train"].tensors()
    state = TrainState(_state_path(args.out), args.params.get("checkpoint_every", 100))
    visual = finetune_expert(visual, head, images, labels, args.params, device, state)
    val_x, val_y = task.splits["val"].tensors()
    val_acc = accuracy(head(encode_images(visual, val_x, device=device)), val_y)
    log.info("%s: val accuracy %.2f", task.name, val_acc)
    info = io.read_json(Path(args.pretrained).with_suffix(".json"))
    info.update(task=task.name, metrics={"val_accuracy": round(val_acc, 4)}, recipe=args.params)
    io.save_checkpoint(args.out, visual.cpu().state_dict(), info)


def import_expert(args) -> None:
    """Take a published fine-tuned CLIP expert (Hugging Face format) instead of fine-tuning."""
    from neulig.hf_import import import_hf_expert

    info = io.read_json(Path(args.pretrained).with_suffix(".json"))
    task = load_task(args.data, splits=())
    import_hf_expert(
        args.params["import_from"],
        args.out,
        architecture=info["architecture"],
        task=task.name,
        pretrained=info["pretrained"],
    )


def evaluate(args) -> None:
    """Encode every task's splits with one model (the feature cache) and score it on test."""
    device = _device(args)
    visual = load_vision_tower(args.model, device)
    heads = load_heads(io.load_tensors(args.heads))
    features = {}
    for root in args.data:
        task = load_task(root, splits=tuple(args.splits))
        for split, data in task.splits.items():
            images, labels = data.tensors()
            features[f"{task.name}/{split}"] = encode_images(visual, images, device=device)
            features[f"{task.name}/{split}/labels"] = labels
    io.save_tensors(args.out_features, features)
    io.write_json(args.out, evaluate_features(args.name, args.method, args.kind, features, heads))


def _val_accuracy(visual, state, tasks, heads, device) -> float:
    visual.load_state_dict(state)
    accs = []
    for task in tasks:
        images, labels = task.splits["val"].tensors()
        z = encode_images(visual, images, device=device)
        accs.append(accuracy(heads[task.name](z), labels))
    return sum(accs) / len(accs)


def merge(args) -> None:
    """Merge the experts with one registry method; grid hyper-parameters chosen on val."""
    from neulig.merging import MERGE_METHODS, merge
    from neulig.models import create_vision_tower

    if args.method not in MERGE_METHODS:
        raise ConfigError(f"merge.methods: unknown method '{args.method}'")
    pretrained, info = io.load_checkpoint(args.pretrained)
    experts = {}
    for path in args.experts:
        state, expert_info = io.load_checkpoint(path)
        experts[expert_info["task"]] = state
    hparams = dict(args.params.get("hparams", {}))
    grid = args.params.get("search", {})
    choice = {}
    if grid:
        device = _device(args)
        heads = load_heads(io.load_tensors(args.heads))
        tasks = [load_task(d, splits=("val",)) for d in args.data]
        visual = create_vision_tower(info["architecture"])  # one skeleton for every grid value
        name, values = next(iter(grid.items()))
        scores = {}
        for value in values:
            state = merge(args.method, pretrained, experts, **hparams, **{name: value})
            scores[value] = _val_accuracy(visual, state, tasks, heads, device)
            log.info("%s %s=%s: val %.2f", args.method, name, value, scores[value])
        best = max(values, key=lambda v: (scores[v], -values.index(v)))
        hparams[name] = best
        choice = {"searched": name, "val_accuracy": {str(k): v for k, v in scores.items()}}
    merged = merge(args.method, pretrained, experts, **hparams)
    info.update(task=None, method=args.method, hparams=hparams, experts=sorted(experts), **choice)
    io.save_checkpoint(args.out, merged, info)


def ensemble(args) -> None:
    """Prediction-level ensemble of the experts (from their cached features) on every task."""
    from neulig.ensemble import ENSEMBLE_METHODS

    heads = load_heads(io.load_tensors(args.heads))
    cached = [io.load_tensors(f) for f in args.features]
    rows = []
    for task, head in heads.items():
        z = torch.stack([c[f"{task}/test"] for c in cached])
        y = cached[0][f"{task}/test/labels"]
        scores = ENSEMBLE_METHODS[args.method](z, head)
        rows.append(
            record(
                f"ensemble:{args.method}",
                f"ensemble_{args.method}",
                "ensemble",
                task,
                accuracy(scores, y),
                len(y),
                split="test",
            )
        )
    io.write_json(args.out, rows)


def _stack_features(cached: list[dict], task: str, split: str):
    from neulig.ligand import TaskFeatures

    z = torch.stack([c[f"{task}/{split}"] for c in cached], dim=1)
    return TaskFeatures(z, cached[0][f"{task}/{split}/labels"])


def route(args) -> None:
    """Train NeuLig's router over a combination of experts and score every merge granularity."""
    from neulig.dynamic_merge import ExpertStack
    from neulig.ligand import ensemble_accuracy, parameter_offsets, train_router
    from neulig.models import create_vision_tower

    p = args.params
    tasks = args.combo.split("+")
    if len(args.experts) != len(tasks) or len(args.features) != len(tasks):
        raise ConfigError(f"combination {args.combo}: need one expert and features file per task")
    heads = load_heads(io.load_tensors(args.heads))
    heads = {t: heads[t] for t in tasks}
    cached = [io.load_tensors(f) for f in args.features]
    states, infos = zip(*(io.load_checkpoint(e) for e in args.experts), strict=True)
    if [i["task"] for i in infos] != tasks:
        raise ConfigError(f"experts {args.experts} do not match combination {args.combo}")
    split = {s: {t: _stack_features(cached, t, s) for t in tasks} for s in ("train", "val", "test")}
    offsets = parameter_offsets(list(states))
    router, info = train_router(split["train"], split["val"], heads, offsets, p)

    stack = ExpertStack(create_vision_tower(infos[0]["architecture"]), list(states), _device(args))
    test_betas = {t: router(d.features).detach() for t, d in split["test"].items()}
    val_betas = {t: router(d.features).detach() for t, d in split["val"].items()}
    global_beta = torch.cat(list(val_betas.values())).mean(dim=0)
    model, n_models = f"neulig_{args.combo}", len(tasks)
    rows = [
        record(
            model,
            "neulig_ensemble",
            "neulig",
            t,
            acc,
            len(split["test"][t].labels),
            combo=args.combo,
            n_models=n_models,
        )
        for t, acc in ensemble_accuracy(router, split["test"], heads).items()
    ]
    for root in args.data:
        task = load_task(root, splits=("test",))
        images, labels = task.splits["test"].tensors()
        betas = test_betas[task.name]
        features = {
            "per_sample": stack.forward_per_sample(betas, images),
            "batch_first": stack.forward_per_batch(betas, images, p["eval_batch_size"], "first"),
            "batch_mean": stack.forward_per_batch(betas, images, p["eval_batch_size"], "mean"),
            "per_task": stack.forward_static(val_betas[task.name].mean(dim=0), images),
            "global": stack.forward_static(global_beta, images),
        }
        for granularity, z in features.items():
            acc = accuracy(heads[task.name](z), labels)
            rows.append(
                record(
                    model,
                    f"neulig_merge_{granularity}",
                    "neulig",
                    task.name,
                    acc,
                    len(labels),
                    combo=args.combo,
                    n_models=n_models,
                )
            )
        log.info("%s: ensemble vs per-sample merge done", task.name)
    for t in tasks:
        mean_beta = test_betas[t].mean(dim=0).tolist()
        rows.append(
            {
                "model": model,
                "method": "neulig_beta",
                "kind": "beta",
                "task": t,
                "combo": args.combo,
                "n_models": n_models,
                "experts": tasks,
                "mean_beta": [round(b, 4) for b in mean_beta],
            }
        )
    router_state = dict(router.state_dict())
    router_state.update({f"test_beta/{t}": b for t, b in test_betas.items()}, offsets=offsets)
    io.save_tensors(args.out_router, router_state)
    io.write_json(args.out, rows)
    io.write_json(Path(args.out_router).with_suffix(".json"), {"combo": args.combo, **info})


def align_experts(args) -> None:
    """Align one expert onto a reference expert and score their weight average on both tasks."""
    from neulig.align.experiment import (
        align_and_average,
        calibration_batch,
        neulig_pair,
        test_accuracy,
    )

    p, device = args.params, _device(args)
    reference = load_vision_tower(args.reference, device)
    other = load_vision_tower(args.other, device)
    ref_info = io.read_json(Path(args.reference).with_suffix(".json"))
    other_info = io.read_json(Path(args.other).with_suffix(".json"))
    splits = ("train", "val", "test")
    tasks = {t.name: t for t in (load_task(d, splits=splits) for d in args.data)}
    heads = load_heads(io.load_tensors(args.heads))
    calibration = calibration_batch(
        list(tasks.values()), reference, p["calibration_images"], p["seed"]
    ).to(device)
    model = f"align_{args.experiment}_{args.method}"

    def rows_for(method: str, accs: dict, **extra) -> list[dict]:
        return [
            record(
                model,
                method,
                "align",
                t,
                a,
                len(tasks[t].splits["test"].labels),
                experiment=args.experiment,
                **extra,
            )
            for t, a in accs.items()
        ]

    own = {}
    for visual, info in ((reference, ref_info), (other, other_info)):
        own.update(test_accuracy(visual, [tasks[info["task"]]], heads, device))
    rows = rows_for("experts (unmerged)", own)
    task_list = list(tasks.values())

    def run(lam: float):
        return align_and_average(
            args.method, reference, other, calibration, task_list, heads, lam, p["seed"], device
        )

    result, accs = run(p["lam"])
    rows += rows_for(args.method, accs, lam=p["lam"])
    if p.get("neulig"):
        nl = neulig_pair(reference, result.state, task_list, heads, p["neulig"], device)
        rows += rows_for(f"{args.method} + NeuLig merge", nl["merge"], lam=p["lam"])
        rows += rows_for(f"{args.method} + NeuLig ensemble", nl["ensemble"], lam=p["lam"])
    if args.method == "mudsc":
        for lam in p.get("lam_grid", []):
            rows += rows_for("mudsc (lambda sweep)", run(lam)[1], lam=lam)
    io.save_tensors(args.out_perms, result.perms)
    info = {
        **other_info,
        "aligned_to": args.reference,
        "method": args.method,
        "diagnostics": result.diagnostics,
    }
    io.save_checkpoint(args.out, result.state, info)
    io.write_json(args.out_records, rows)


def report(args) -> None:
    """Tables (CSV + Markdown) and figures from every evaluation record."""
    from neulig.reporting import write_report

    write_report(args.records, args.out_dir, args.params)


_many = {"nargs": "+", "required": True}
_one = {"required": True}
STEPS = {
    "download": (download, {"--task": _one, "--out": _one}),
    "pretrain": (
        pretrain,
        {"--data": _many, "--out": _one, "--out-heads": _one, "--out-text": _one},
    ),
    "pretrain-vision": (pretrain_vision, {"--data": _many, "--text": _one, "--out": _one}),
    "finetune": (finetune, {"--data": _one, "--pretrained": _one, "--heads": _one, "--out": _one}),
    "evaluate": (
        evaluate,
        {
            "--model": _one,
            "--data": _many,
            "--splits": _many,
            "--heads": _one,
            "--name": _one,
            "--method": _one,
            "--kind": _one,
            "--out-features": _one,
            "--out": _one,
        },
    ),
    "merge": (
        merge,
        {
            "--method": _one,
            "--pretrained": _one,
            "--experts": _many,
            "--data": _many,
            "--heads": _one,
            "--out": _one,
        },
    ),
    "ensemble": (ensemble, {"--method": _one, "--features": _many, "--heads": _one, "--out": _one}),
    "route": (
        route,
        {
            "--combo": _one,
            "--experts": _many,
            "--features": _many,
            "--heads": _one,
            "--data": _many,
            "--out-router": _one,
            "--out": _one,
        },
    ),
    "align": (
        align_experts,
        {
            "--method": _one,
            "--experiment": _one,
            "--reference": _one,
            "--other": _one,
            "--data": _many,
            "--heads": _one,
            "--out": _one,
            "--out-perms": _one,
            "--out-records": _one,
        },
    ),
    "report": (report, {"--records": _many, "--out-dir": _one}),
}
