"""Per-task merges: one model per task, used with the task's identity (TALL masks, EMR-Merging).

Not merge methods (one state dict for every task), so not in :mod:`neulig.merging.methods`;
each module defines ``task_model(ctx, task, **hparams)``. Scoring them in the workflow beside
NeuLig's per-task granularity is still to be wired.
"""
