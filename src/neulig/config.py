"""Config validation with one-line errors that name the offending key."""

from __future__ import annotations

import os

import jsonschema
import yaml

from neulig.io import ConfigError


def check_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` naming the first bad key (``finetune.lr: 'fast' is not ...``)."""
    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{key}': {error.message} (see {schema_path})")
