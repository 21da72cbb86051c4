"""Config validation with one-line errors that name the offending key, and schema defaults."""

from __future__ import annotations

import os

import jsonschema
import yaml

from neulig.errors import ConfigError


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


def check_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` in place, filling in defaults; raise :class:`ConfigError` naming the
    first bad key (``config key 'finetune.lr': 'fast' is not of type 'number'``)."""
    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{key}': {error.message} (see {schema_path})")
