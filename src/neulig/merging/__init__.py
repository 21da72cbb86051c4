"""Parameter-level merging: one module per method, one signature, ``merge(ctx, **hparams)``.

Adding a method is one module (in :mod:`neulig.merging.methods`, or a plugin named in the
config's ``merge.plugins``) and its name in the config; :mod:`neulig.catalogue` declares it.
"""

from neulig.merging.context import MergeContext
from neulig.merging.registry import merge, merge_function

__all__ = ["MergeContext", "merge", "merge_function"]
