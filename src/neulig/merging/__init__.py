"""Parameter-level merging: state-dict arithmetic and the registry of merge methods."""

from neulig.merging.methods import MERGE_METHODS, merge

__all__ = ["MERGE_METHODS", "merge"]
