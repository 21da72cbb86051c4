"""Command line: one subcommand per workflow step, so every step also runs by hand.

Hyper-parameters arrive as one JSON object (``--params``), the config slice that the Snakemake
rule declares in ``params:``; paths arrive as named options. Errors about user-fixable
problems (bad config, missing or corrupt files) are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from neulig.io import ArtifactError, ConfigError

log = logging.getLogger("neulig")


def _params(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise SystemExit(f"neulig: --params is not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise SystemExit("neulig: --params must be a JSON object")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=_params, default={}, help="config slice as JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def build_parser() -> argparse.ArgumentParser:
    from neulig import steps

    parser = argparse.ArgumentParser(prog="neulig", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name, (func, args) in steps.STEPS.items():
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0])
        _common(p)
        for flag, kwargs in args.items():
            p.add_argument(flag, **kwargs)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        args.func(args)
    except (ArtifactError, ConfigError) as err:
        print(f"neulig {args.step}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
