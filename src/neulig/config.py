"""Config validation with one-line errors that name the offending key, and schema defaults.

The schema (``workflow/schemas/config.schema.yaml``) is the only place defaults live. The merge
methods' names are not written in it: they are the modules of :mod:`neulig.merging.methods`,
filled into the schema here, so adding a method is one file plus its name in the config.
Kept free of torch: the Snakefile validates the config on every ``snakemake`` call.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from neulig.errors import ConfigError

MERGE_METHODS_DIR = Path(__file__).parent / "merging" / "methods"
T = TypeVar("T")


def put_cli_on_path() -> None:
    """Put this interpreter's script folder (a venv's ``bin``, where ``neulig`` and ``dvc``
    live) first on PATH for the jobs Snakemake starts; ``--sdm conda`` jobs put their own
    environment before it."""
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def merge_method_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(MERGE_METHODS_DIR)]))


@cache
def merge_method_labels() -> dict[str, str]:
    """Each method module's ``LABEL`` constant, read from its source: the report and the
    schema need the names and labels, not torch (importing the modules costs seconds)."""
    labels = {}
    for name in merge_method_names():
        tree = ast.parse((MERGE_METHODS_DIR / f"{name}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                "LABEL"
            ]:
                labels[name] = ast.literal_eval(node.value)
        if name not in labels:
            raise ConfigError(f"{MERGE_METHODS_DIR / name}.py: no LABEL = '...' constant")
    return labels


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
def _schema(path: str) -> dict:
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    merge = schema["properties"].get("merge")
    if merge:  # the experiment schema (a suite's has no merge block)
        names = merge_method_names()
        merge["properties"]["methods"]["items"]["enum"] = names
        merge["propertyNames"]["enum"] = ["methods", *names]
    return schema


def check_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` in place, filling in defaults; raise :class:`ConfigError` naming the
    first bad key (``config key 'finetune.lr': 'fast' is not of type 'number'``).

    A schema can word a keyword's failure itself: ``errorMessage: {minProperties: "..."}`` beside
    the keyword (ajv-errors' spelling), where jsonschema's own message would not say what to do.
    """
    validator = _with_defaults(jsonschema.Draft202012Validator)(_schema(str(schema_path)))
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
