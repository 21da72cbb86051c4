"""Step adapters of the training stages: download, pretrain, fine-tune.

Each adapter imports what its step needs: a job runs one step, and the steps' modules together
(torch, open_clip, matplotlib) would cost every job seconds.
"""

from __future__ import annotations

from neulig.cli.common import load_tasks, torch_device, train_state


def download(args) -> None:
    """Materialise one task's dataset in the packed format (offline sources or local files)."""
    from neulig.data.prepare import prepare_task

    prepare_task(args.task, args.params["spec"], args.params["seed"], args.out)


def pretrain(args) -> None:
    """Provide the shared pretrained CLIP: vision tower checkpoint plus zero-shot heads."""
    from neulig import io
    from neulig.pretrain import SCRATCH_TAGS, provide_pretrained

    scratch = args.params["pretrained"] in SCRATCH_TAGS
    tasks = load_tasks(args.data, ("pretrain",) if scratch else ())
    model, heads, info = provide_pretrained(
        args.params, tasks, torch_device(args), train_state(args.out, args.params["recipe"])
    )
    io.save_tensors(args.out_heads, heads)
    io.save_checkpoint(args.out, model.visual.state_dict(), info)
    text = {k: v for k, v in model.state_dict().items() if not k.startswith("visual.")}
    io.save_tensors(args.out_text, text)


def pretrain_vision(args) -> None:
    """Pretrain an independently initialised vision tower against a frozen, shared text tower."""
    from neulig import io
    from neulig.pretrain import pretrain_clip, pretraining_pool

    p = args.params
    tasks = load_tasks(args.data, ("pretrain",))
    state = train_state(args.out, p["recipe"])
    text = io.load_tensors(args.text)
    pool = pretraining_pool(p["model"], p["recipe"], tasks)
    model = pretrain_clip(pool, p["model"], p["recipe"], torch_device(args), state, text)
    info = {
        "architecture": p["model"],
        "pretrained": f"scratch-seed{p['recipe']['seed']}",
        "task": None,
        "text_tower": str(args.text),
    }
    io.save_checkpoint(args.out, model.visual.cpu().state_dict(), info)


def export_clip(args) -> None:
    """Join a pretrain step's vision and text towers into one shippable CLIP file."""
    from neulig import io, shipped_clip

    vision, info = io.load_checkpoint(args.vision)
    state = {f"visual.{k}": v for k, v in vision.items()} | io.load_tensors(args.text)
    io.save_tensors(args.out, shipped_clip.compact(state, info["architecture"], info["seed"]))


def finetune(args) -> None:
    """Fine-tune one expert's vision tower on its task with the frozen zero-shot head."""
    from neulig import io
    from neulig.evaluate import read_heads
    from neulig.finetune import train_expert
    from neulig.models import load_vision_tower

    splits = () if args.params.get("import_from") else ("train", "val")
    task = load_tasks([args.data], splits)[0]
    info = io.read_json(io.sidecar(args.pretrained))
    if args.params.get("import_from"):
        from neulig.hf_import import import_hf_expert

        return import_hf_expert(
            args.params["import_from"],
            args.out,
            task=task.name,
            architecture=info["architecture"],
            pretrained=info["pretrained"],
        )
    head = read_heads(args.heads, [task.name])[task.name]
    device = torch_device(args)
    visual, val_acc = train_expert(
        task,
        head,
        load_vision_tower(args.pretrained, device),
        args.params,
        device,
        train_state(args.out, args.params),
    )
    info.update(task=task.name, metrics={"val_accuracy": round(val_acc, 4)}, recipe=args.params)
    io.save_checkpoint(args.out, visual.state_dict(), info)
