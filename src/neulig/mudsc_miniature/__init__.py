"""MuDSC's homogeneous-task experiment in miniature, an experiment of its own (config/mudsc.yaml).

Per data set and seed pair, two ResNet-20s are trained from scratch on class-disjoint halves of
a digit set and merged every way, reusing :mod:`neulig.align`'s matching and zipping:

- :mod:`.tasks`: the digit set split into two class-disjoint tasks, and class-name heads;
- :mod:`.train`: training and scoring one ResNet per task;
- :mod:`.methods`: every merge of the pair (averaging, matching, MuDSC-Align, zip), scored;
- :mod:`.landscape`: the loss landscape on the plane through A, B and a merge;
- :mod:`.pair`: one seed pair of one data set, end to end (the workflow's job).

The report section is :mod:`neulig.reporting.sections.mudsc`. This module is free of torch:
the report reads the method names below.
"""

from __future__ import annotations

# the result rows, in the table's order
METHODS = ("model_a", "model_b", "ensemble", "average", "weight", "activation", "mudsc_align",
           "zipit", "mudsc_zip")  # fmt: skip
LABELS = {
    "model_a": "model A (task a only)",
    "model_b": "model B (task b only)",
    "ensemble": "ensemble (mean logits)",
    "average": "weight averaging",
    "weight": "weight matching (Git Re-Basin)",
    "activation": "activation align",
    "mudsc_align": "MuDSC-Align",
    "zipit": "ZipIt",
    "mudsc_zip": "MuDSC-Zip",
}
