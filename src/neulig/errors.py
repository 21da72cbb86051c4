"""User-fixable errors; kept free of heavy imports so the Snakefile's config check stays fast."""


class ArtifactError(RuntimeError):
    """A missing, corrupt or mismatched artifact; the message names the file and the fix."""


class ConfigError(ValueError):
    """A config value the step cannot use; the message names the key."""
