# Helpers of MuDSC's experiment in miniature (mudsc.smk), a kind of experiment of its own
# (config/mudsc.yaml): no tasks, no CLIP, one run per data set and seed pair.
from neulig.plan import Plan

P = Plan(config)  # paths only: results/, reports/, logs/, benchmarks/ of the experiment
MUDSC = config["mudsc_miniature"]
MUDSC_RUN = ("{source}", "pair{pair}")
MUDSC_FILES = ("rows.csv", "landscape.npz", "info.json")


def mudsc_outputs(name):
    """One file per (data set, seed pair) of the config."""
    return expand(
        P.results(*MUDSC_RUN, name), source=MUDSC["sources"], pair=range(MUDSC["pairs"])
    )


def mudsc_runs():
    """Every file the runs write (the report reads the rows and landscapes)."""
    return [f for name in MUDSC_FILES for f in mudsc_outputs(name)]
