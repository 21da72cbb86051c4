"""Step adapters of the collaboration stages: evaluate, merge, ensemble, route, align, report.

Each adapter imports what its step needs: a job runs one step, and the steps' modules together
(torch, open_clip, matplotlib) would cost every job seconds.
"""

from __future__ import annotations

from collections import Counter

from neulig.catalogue import merge_method
from neulig.cli.common import load_tasks, task_dir, torch_device
from neulig.errors import ConfigError


def evaluate(args) -> None:
    """Encode every task's splits with one model (the feature cache) and score it on test."""
    from neulig import io
    from neulig.evaluate import encode_tasks, model_records, read_heads
    from neulig.models import load_vision_tower
    from neulig.records import write_records

    device = torch_device(args)
    visual = load_vision_tower(args.model, device)
    tasks = load_tasks(args.data, tuple(args.splits))
    heads = read_heads(args.heads, [t.name for t in tasks])
    features = encode_tasks(visual, tasks, device)
    io.save_tensors(args.out_features, features)
    write_records(args.out, model_records(args.name, features, heads))


def merge(args) -> None:
    """Merge the experts with one registry method; a grid hyper-parameter is chosen on val."""
    from neulig import io
    from neulig.merging.search import merge_with_search

    merge_method(args.method)  # an unknown name fails here, in one line, before any loading
    ctx, info = _merge_context(args, args.pretrained, args.experts)
    merged, hparams, choice = merge_with_search(
        args.method, ctx, args.params.get("hparams", {}), args.params.get("search", {})
    )
    info.update(task=None, method=args.method, hparams=hparams, experts=list(ctx.experts), **choice)
    if ctx.diagnostics:  # learned coefficients (AdaMerging lambdas, WeMoE routing), reportable
        info["coefficients"] = ctx.diagnostics
    io.save_checkpoint(args.out, merged, info)


def merge_per_task(args) -> None:
    """Score a per-task method (TALL, EMR): each task's test split through its own model."""
    from neulig import io
    from neulig.merging.evaluation import per_task_records
    from neulig.records import write_records

    if not merge_method(args.method).per_task:  # a single merge belongs to the merge step
        raise ConfigError(f"{args.method} is not a per-task method: use `neulig merge`")
    ctx, info = _merge_context(args, args.pretrained, args.experts)
    records, chosen = per_task_records(args.method, ctx, args.params, ctx.heads)
    info.update(task=None, method=args.method, experts=list(ctx.experts), **chosen)
    io.write_json(args.out_info, info)  # the sidecar a merge has, read by the report
    write_records(args.out, records)


def _merge_context(args, pretrained: str, expert_paths: list[str]):
    """The MergeContext of a step's checkpoints and data, and the pretrained one's sidecar."""
    from neulig import io
    from neulig.merging import MergeContext

    pretrained, info = io.load_checkpoint(pretrained)
    arch, seed = info["architecture"], args.params.get("seed", 0)
    experts = dict(_expert(path, pretrained, arch) for path in expert_paths)
    data = {t.name: task_dir(p) for p, t in zip(args.data, load_tasks(args.data, ()), strict=True)}
    return MergeContext(pretrained, experts, arch, data, args.heads, torch_device(args), seed), info


def _feature_caches(args):
    """The pretrained model's and the experts' cached features (``--pretrained-features``,
    ``--features``)."""
    from neulig import io

    return io.load_tensors(args.pretrained_features), [io.load_tensors(f) for f in args.features]


def counterpart(args) -> None:
    """A merge method at prediction level, with its own coefficients, on the cached features;
    a merge with one network per input (``per_input``, WeMoE) is scored here too."""
    from neulig import io
    from neulig.evaluate import read_heads
    from neulig.merging.evaluation import counterpart_records, per_input_merge_records
    from neulig.records import write_records

    info = io.read_json(args.info)
    pretrained, experts = _feature_caches(args)
    heads = read_heads(args.heads, info["experts"])  # the merge's task order = the features'

    records, routing = [], None
    if merge_method(args.method).per_input:
        ctx, _ = _merge_context(args, args.pretrained[0], args.experts)
        state = io.load_tensors(args.model[0])
        records, routing = per_input_merge_records(args.method, ctx, state, heads)
    records += counterpart_records(args.method, info, pretrained, experts, heads, routing)
    write_records(args.out, records)


def pair(args) -> None:
    """One merge method on one pair of experts, at both levels (the paper's Figure 3)."""
    from neulig import io
    from neulig.evaluate import read_heads
    from neulig.merging.pairs import pair_records
    from neulig.records import write_records

    ctx, _ = _merge_context(args, args.pretrained, args.experts)
    pretrained, experts = _feature_caches(args)
    heads = read_heads(args.heads, list(ctx.experts))
    records, info = pair_records(args.method, ctx, args.params, pretrained, experts, heads)
    write_records(args.out, records)
    io.write_json(args.out_info, info)


def _expert(path: str, reference: dict, architecture: str) -> tuple[str, dict]:
    """An expert's task and state, checked against ``reference``, a tower of ``architecture``."""
    from neulig import io
    from neulig.models import check_expert

    state, info = io.load_checkpoint(path)
    check_expert(path, state, reference, architecture)
    return info["task"], state


def ensemble(args) -> None:
    """Prediction-level ensemble of the experts (from their cached features) on every task."""
    from neulig import io
    from neulig.ensemble import ensemble_records
    from neulig.evaluate import read_heads
    from neulig.records import write_records

    cached = [io.load_tensors(f) for f in args.features]
    tasks = sorted({k.split("/")[0] for k in cached[0]})
    write_records(args.out, ensemble_records(args.method, cached, read_heads(args.heads, tasks)))


def _checked_architecture(paths: list[str], states, infos) -> str:
    """The router's experts' architecture, every expert checked against a tower of it. A router
    job has no pretrained checkpoint: the architecture most sidecars name is the reference."""
    from neulig.models import check_expert, create_vision_tower

    arch = Counter(i["architecture"] for i in infos).most_common(1)[0][0]
    reference = create_vision_tower(arch).state_dict()
    for path, state in zip(paths, states, strict=True):
        check_expert(path, state, reference, arch)
    return arch


def route(args) -> None:
    """Train NeuLig's router over a combination of experts and score every merge granularity."""
    from neulig import io
    from neulig.evaluate import read_heads
    from neulig.ligand.run import run_neulig, temperatures
    from neulig.records import combo_tasks, write_records

    names = combo_tasks(args.combo)
    states, infos = zip(*(io.load_checkpoint(e) for e in args.experts), strict=True)
    if [i["task"] for i in infos] != names or len(args.features) != len(names):
        raise ConfigError(f"combination {args.combo}: experts {args.experts} do not match it")
    arch = _checked_architecture(args.experts, states, infos)
    splits = ("val", "test") if len(temperatures(args.params)) > 1 else ("test",)
    tasks = {t.name: t for t in load_tasks(args.data, splits)}
    result = run_neulig(
        args.combo,
        list(states),
        arch,
        [io.load_tensors(f) for f in args.features],
        tasks,
        read_heads(args.heads, names),
        args.params,
        torch_device(args),
    )
    io.save_tensors(args.out_router, result.router)
    io.write_json(io.sidecar(args.out_router), {"combo": args.combo, **result.info})
    io.write_json(args.out_betas, result.betas)
    write_records(args.out, result.records)


def align(args) -> None:
    """Align one expert onto a reference expert and score their merge on both tasks."""
    from neulig import io
    from neulig.align.experiment import run_alignment
    from neulig.evaluate import read_heads
    from neulig.models import load_vision_tower
    from neulig.records import write_records

    device = torch_device(args)
    pair = [
        (load_vision_tower(p, device), io.read_json(io.sidecar(p)))
        for p in (args.reference, args.other)
    ]
    tasks = {t.name: t for t in load_tasks(args.data, ("train", "val", "test"))}
    result, records = run_alignment(
        args.method,
        args.setting,
        [(m, i["task"]) for m, i in pair],
        tasks,
        read_heads(args.heads, list(tasks)),
        args.params,
        device,
    )
    io.save_tensors(args.out_perms, result.perms)
    info = {
        **pair[1][1],
        "aligned_to": args.reference,
        "method": args.method,
        "diagnostics": result.diagnostics,
    }
    io.save_checkpoint(args.out, result.state, info)
    write_records(args.out_records, records)


def align_expert(args) -> None:
    """Align a diverse-origin expert onto the reference expert (the main path's align stage)."""
    from neulig import io
    from neulig.align.experiment import align_expert
    from neulig.models import load_vision_tower

    device = torch_device(args)
    reference, other = (load_vision_tower(p, device) for p in (args.reference, args.other))
    tasks = load_tasks(args.data, ("train",))
    p = args.params
    result = align_expert(p["align_method"], reference, other, tasks, p, device)
    info = io.read_json(io.sidecar(args.other))
    info.update(aligned_to=args.reference, align_method=p["align_method"])
    io.save_checkpoint(args.out, result.state, {**info, "diagnostics": result.diagnostics})


def report(args) -> None:
    """Tables, figures and DVC metrics from every records file and diagnostic."""
    from neulig.reporting import write_report
    from neulig.reporting.inputs import ReportInputs

    paths = (args.records, args.compared_records, args.betas, args.merge_info)
    heads = args.heads[0] if args.heads else None
    inputs = ReportInputs.read(*paths, args.params, args.expert_features, heads)
    write_report(inputs, args.params["sections"], args.out_dir)


def dvc_yaml(args) -> None:
    """The experiment's dvc.yaml: the metrics and plots its report writes (--params)."""
    from neulig.reporting.metrics import write_dvc_yaml

    write_dvc_yaml(args.out, args.params)


def suite_report(args) -> None:
    """The suite's comparison of its members: Table 1 and links to every member's report."""
    from neulig.reporting.suite import write_suite_report

    tables = (args.reports, args.accuracies, args.levels, args.gaps)
    outs = (args.out_table1, args.out_seeds, args.out)
    write_suite_report(args.members, *tables, args.params, args.title, *outs)
