"""Parameter-level merging: a registry of methods with one signature, ``merge(ctx, **hparams)``.

Adding a method is one file in :mod:`neulig.merging.methods` and its name in the config.
"""

from neulig.merging.context import MergeContext
from neulig.merging.registry import MERGE_LABELS, MERGE_METHODS, merge

__all__ = ["MERGE_LABELS", "MERGE_METHODS", "MergeContext", "merge"]
