"""Command line: one subcommand per workflow step, so every step also runs by hand.

Hyper-parameters arrive as one JSON object (``--params``), the config slice that the Snakemake
rule declares in ``params:``; paths arrive as named options. Each adapter reads its inputs,
calls one package function and writes its outputs. Errors about user-fixable problems (bad
config, missing or corrupt files) are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from neulig.catalogue import use_plugins
from neulig.cli.mudsc import mudsc_miniature, mudsc_report
from neulig.cli.stages import (
    align,
    align_expert,
    counterpart,
    dvc_yaml,
    ensemble,
    evaluate,
    merge,
    merge_per_task,
    pair,
    report,
    route,
    suite_report,
)
from neulig.cli.training import download, export_clip, finetune, pretrain, pretrain_vision
from neulig.errors import ArtifactError, ConfigError

log = logging.getLogger("neulig")

# Each step's options: "name" one path, "name+" one or more, "name*" zero or more.
STEPS = {
    "download": (download, ["task", "out"]),
    "pretrain": (pretrain, ["data+", "out", "out-heads", "out-text"]),
    "pretrain-vision": (pretrain_vision, ["data+", "text", "out"]),
    "export-clip": (export_clip, ["vision", "text", "out"]),
    "finetune": (finetune, ["data", "pretrained", "heads", "out"]),
    "evaluate": (evaluate, ["model", "data+", "splits+", "heads", "name", "out-features", "out"]),
    "merge": (merge, ["method", "pretrained", "experts+", "data+", "heads", "out"]),
    "merge-per-task": (
        merge_per_task,
        ["method", "pretrained", "experts+", "data+", "heads", "out", "out-info"],
    ),
    "pair": (
        pair,
        ["method", "pretrained", "experts+", "data+", "heads", "pretrained-features"]
        + ["features+", "out", "out-info"],
    ),
    "ensemble": (ensemble, ["method", "features+", "heads", "out"]),
    "counterpart": (
        counterpart,
        ["method", "info", "pretrained-features", "features+", "heads", "out"]
        + ["model*", "pretrained*", "experts*", "data*"],  # per-input merges only
    ),
    "route": (
        route,
        ["combo", "experts+", "features+", "heads", "data+", "out-router", "out-betas", "out"],
    ),
    "align": (
        align,
        [
            "method",
            "setting",
            "reference",
            "other",
            "data+",
            "heads",
            "out",
            "out-perms",
            "out-records",
        ],
    ),
    "align-expert": (align_expert, ["reference", "other", "data+", "out"]),
    "suite-report": (
        suite_report,
        [
            "members+",
            "reports+",
            "accuracies+",
            "levels+",
            "gaps+",
            "title",
            "out-table1",
            "out-seeds",
            "out",
        ],
    ),
    "report": (
        report,
        ["records+", "compared-records*", "betas*", "merge-info*", "expert-features*", "heads*"]
        + ["out-dir"],
    ),
    "dvc-yaml": (dvc_yaml, ["out"]),
    "mudsc-miniature": (
        mudsc_miniature,
        ["source", "pair", "out-rows", "out-landscape", "out-info"],
    ),
    "mudsc-report": (mudsc_report, ["rows+", "landscapes+", "out-dir"]),
}


def _params(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise SystemExit(f"neulig: --params is not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise SystemExit("neulig: --params must be a JSON object")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neulig", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name, (func, options) in STEPS.items():
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0])
        p.add_argument("--params", type=_params, default={}, help="config slice as JSON")
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        for option in options:
            flag, many = option.rstrip("+*"), option[-1] in "+*"
            p.add_argument(
                f"--{flag}",
                nargs="+" if option[-1] == "+" else "*" if many else None,
                required=option[-1] != "*",
                default=[] if many else None,
            )
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    use_plugins(args.params.get("plugins", []))  # the config's merge.plugins, for method names
    if args.threads:
        import torch  # only here: the report and data steps never need it

        torch.set_num_threads(args.threads)
    try:
        args.func(args)
    except (ArtifactError, ConfigError) as err:
        print(f"neulig {args.step}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
