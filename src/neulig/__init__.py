"""Multi-level model collaboration: CLIP experts, merging, alignment and ensembling."""

__version__ = "0.1.0"
