"""Config validation with one-line errors that name the offending key, and schema defaults.

The schema (``workflow/schemas/config.schema.yaml``) is the only place defaults live. The merge
methods' names (merge, ensemble, router loss, alignment) are not written in it: they come from
:mod:`neulig.catalogue` (for merges, the built-in methods and the config's ``merge.plugins``),
filled into the schema here, so adding a merge method is one file plus its name in the config.
Kept free of torch: the Snakefile validates the config on every ``snakemake`` call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from neulig.catalogue import ALIGN_LABELS, ENSEMBLE_LABELS, ROUTER_LOSSES, merge_methods
from neulig.errors import ConfigError

T = TypeVar("T")

# The kinds of experiment a config can describe, each with its schema (workflow/schemas/) and
# its rules: the CLIP pipeline, MuDSC's miniature, a suite of experiments.
SCHEMAS = {
    "clip": "config.schema.yaml",
    "mudsc": "mudsc.schema.yaml",
    "suite": "suite.schema.yaml",
}


def experiment_kind(config: dict) -> str:
    """``suite`` for a config with a ``suite:`` block, ``mudsc`` for one with a
    ``mudsc_miniature:`` block (MuDSC's experiment in miniature), else ``clip``."""
    if "suite" in config:
        return "suite"
    return "mudsc" if "mudsc_miniature" in config else "clip"


def put_cli_on_path() -> None:
    """Put this interpreter's script folder (a venv's ``bin``, where ``neulig`` and ``dvc``
    live) first on PATH for the jobs Snakemake starts; ``--sdm conda`` jobs put their own
    environment before it."""
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def _with_defaults(validator_class):
    """A validator that also fills in each property's schema ``default`` where it is missing."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = subschema["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


@cache
def _schema(path: str, plugins: tuple[str, ...] = ()) -> dict:
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    props = schema["properties"]
    if "merge" in props:  # the experiment schema (a suite's has no merge block)
        names = list(merge_methods(plugins))
        lists = {
            ("merge", "methods"): names,
            ("pairs", "methods"): names,
            ("ensemble", "methods"): list(ENSEMBLE_LABELS),
            ("neulig", "compare_losses"): list(ROUTER_LOSSES),
            ("alignment", "methods"): list(ALIGN_LABELS),
        }
        for (block, key), values in lists.items():
            props[block]["properties"][key]["items"]["enum"] = values
        props["merge"]["propertyNames"]["enum"] = ["methods", "plugins", *names]
        props["neulig"]["properties"]["loss"]["enum"] = list(ROUTER_LOSSES)
        props["neulig"]["properties"]["recipes"]["propertyNames"]["enum"] = list(ROUTER_LOSSES)
        props["experts"]["properties"]["align_method"]["enum"] = list(ALIGN_LABELS)
    return schema


def check_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` in place, filling in defaults; raise :class:`ConfigError` naming the
    first bad key (``config key 'finetune.lr': 'fast' is not of type 'number'``).

    A schema can word a keyword's failure itself: ``errorMessage: {minProperties: "..."}`` beside
    the keyword (ajv-errors' spelling), where jsonschema's own message would not say what to do.
    """
    plugins = (config.get("merge") or {}).get("plugins") or []
    if not isinstance(plugins, list):
        raise ConfigError(f"config key 'merge.plugins': {plugins!r} is not a list of module names")
    schema = _schema(str(schema_path), tuple(plugins))
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        custom = error.schema.get("errorMessage", {}) if isinstance(error.schema, dict) else {}
        message = custom.get(error.validator, error.message)
        raise ConfigError(f"config key '{key}': {message} (see {schema_path})")


def exit_on_config_error(check: Callable[..., T], *args: Any) -> T:
    """``check(*args)`` for the Snakefile's parse-time checks: a :class:`ConfigError` ends the run
    with its one line on stderr and exit status 1. Snakemake prints an exception raised while it
    parses the workflow with `File "...", line ...` frames, but lets a SystemExit through."""
    try:
        return check(*args)
    except ConfigError as err:
        sys.exit(str(err))


def load_config(path: str | os.PathLike, schema_path: str | os.PathLike) -> dict:
    """Read and validate a config file (defaults filled in)."""
    with open(path) as fh:
        config = yaml.safe_load(fh)
    check_config(config, schema_path)
    return config
