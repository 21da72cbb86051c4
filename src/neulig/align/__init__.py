"""Model alignment and zipping: permute or zip models' units onto each other (MuDSC, ZipIt and
baselines) for open_clip ViT towers and ResNets."""

from neulig.align.arch import spec_for
from neulig.align.matching import ALIGN_METHODS, AlignResult, align
from neulig.align.spec import apply_permutations, vit_spec
from neulig.align.zipping import ZipResult, partial_zip, zip_models

__all__ = [
    "ALIGN_METHODS",
    "AlignResult",
    "ZipResult",
    "align",
    "apply_permutations",
    "partial_zip",
    "spec_for",
    "vit_spec",
    "zip_models",
]
