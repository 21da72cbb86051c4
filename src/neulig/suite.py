"""A suite: several experiments in one Snakemake DAG, and the tables that compare them.

A suite config (``config/full.yaml``) names a base config and, per member, the keys that differ
from it. Each member becomes a Snakemake module of this workflow with its own experiment name,
so its files stay under ``results/<member experiment>/``; datasets they share are built once.
The suite's own report compares the members (the NeuLig paper's Table 1).
Kept free of torch: the Snakefile builds the members on every ``snakemake`` call.
"""

from __future__ import annotations

import copy
import os

import yaml

from neulig.config import SCHEMAS, check_config, experiment_kind
from neulig.errors import ConfigError


def deep_merge(base: dict, overrides: dict) -> dict:
    """``base`` updated key by key with ``overrides``; a ``null`` override removes the key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def member_configs(suite: dict, basedir: str | os.PathLike) -> dict[str, dict]:
    """Member name -> its validated config (base + overrides); each needs its own experiment.

    A member's own ``base:`` (``config/mudsc.yaml``) replaces the suite's; its kind of
    experiment (:func:`~neulig.config.experiment_kind`) picks the schema it is checked against.
    """
    members = {}
    for name, overrides in expand_seeds(suite).items():
        overrides = dict(overrides or {})
        base_key = "base" if "base" in overrides else "suite.base"
        config = deep_merge(_read_base(overrides.pop("base", suite["base"]), base_key, basedir),
                            overrides)  # fmt: skip
        schema = f"{basedir}/workflow/schemas/{SCHEMAS[experiment_kind(config)]}"
        try:
            check_config(config, schema)
        except ConfigError as err:
            raise ConfigError(f"suite member '{name}': {err}") from err
        members[name] = config
    experiments = [c["experiment"] for c in members.values()]
    if len(set(experiments)) < len(experiments):
        raise ConfigError(
            f"suite.members: each member needs its own experiment name ({experiments})"
        )
    return members


def _read_base(path: str, key: str, basedir: str | os.PathLike) -> dict:
    try:
        with open(f"{basedir}/{path}") as fh:
            return yaml.safe_load(fh)
    except OSError as err:
        raise ConfigError(
            f"config key '{key}': cannot read {path} ({err.strerror}); give a "
            f"config file relative to {basedir}, e.g. config/config.yaml"
        ) from err


def clip_members(members: dict[str, dict]) -> list[str]:
    """The members that run the CLIP pipeline (whose reports the suite's tables compare)."""
    return [m for m, c in members.items() if experiment_kind(c) == "clip"]


def expand_seeds(suite: dict) -> dict[str, dict]:
    """Members' overrides, each member repeated per ``suite.seeds``: ``<name>`` keeps its
    experiment for the first seed, ``<name>s<seed>`` runs experiment ``<experiment>-s<seed>``."""
    seeds = suite.get("seeds") or []
    if not seeds:
        return dict(suite["members"])
    out = {}
    for name, overrides in suite["members"].items():
        overrides = overrides or {}
        experiment = overrides.get("experiment", name)
        for i, seed in enumerate(seeds):
            suffix = "" if i == 0 else f"s{seed}"
            run = {"experiment": experiment + (f"-s{seed}" if suffix else ""), "seed": seed}
            out[name + suffix] = {**overrides, **run}
    return out


def replicates(suite: dict) -> dict[str, list[str]]:
    """Member -> the names of its runs over ``suite.seeds`` (empty without seeds)."""
    seeds = suite.get("seeds") or []
    if len(seeds) < 2:
        return {}
    return {m: [m] + [f"{m}s{s}" for s in seeds[1:]] for m in suite["members"]}


def check_suite(config: dict, basedir: str | os.PathLike) -> None:
    """Validate a suite config against ``workflow/schemas/suite.schema.yaml`` (defaults filled)."""
    check_config(config, f"{basedir}/workflow/schemas/suite.schema.yaml")


__all__ = [
    "check_suite",
    "clip_members",
    "deep_merge",
    "expand_seeds",
    "member_configs",
    "replicates",
]
