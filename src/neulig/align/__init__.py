"""Model alignment and zipping: permute or zip models' units onto each other (MuDSC, ZipIt and
baselines) for open_clip ViT towers and ResNets."""

from neulig.align.matching import ALIGN_METHODS, AlignResult, align
from neulig.align.perm_specs import spec_for
from neulig.align.vit_perms import apply_permutations, vit_spec
from neulig.align.zip_models import ZipResult, partial_zip, zip_models

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
