"""Model alignment: permute one vision tower's units onto another's (MuDSC and baselines)."""

from neulig.align.matching import ALIGN_LABELS, ALIGN_METHODS, AlignResult, align
from neulig.align.spec import apply_permutations, vit_spec

__all__ = [
    "ALIGN_LABELS",
    "ALIGN_METHODS",
    "AlignResult",
    "align",
    "apply_permutations",
    "vit_spec",
]
