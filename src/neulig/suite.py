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

from neulig.config import check_config, load_config
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
    """Member name -> its validated config (base + overrides); each needs its own experiment."""
    schema = f"{basedir}/workflow/schemas/config.schema.yaml"
    with open(f"{basedir}/{suite['base']}") as fh:
        import yaml

        base = yaml.safe_load(fh)
    members = {}
    for name, overrides in suite["members"].items():
        config = deep_merge(base, overrides or {})
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


def check_suite(config: dict, basedir: str | os.PathLike) -> None:
    """Validate a suite config against ``workflow/schemas/suite.schema.yaml`` (defaults filled)."""
    check_config(config, f"{basedir}/workflow/schemas/suite.schema.yaml")


__all__ = ["check_suite", "deep_merge", "load_config", "member_configs"]
