"""How well a member predicts the papers over its seeds: Kendall tau per seed and of the mean
ranking, and each of the paper's pairwise orderings as a margin with its 95% interval, so that a
one-seed accident is told apart from a property of the miniature."""

from __future__ import annotations

import pandas as pd

from neulig.reporting import fidelity
from neulig.reporting.sections.seeds import interval


def run_rows(accuracy: pd.DataFrame, levels: pd.DataFrame) -> pd.Series:
    """A run's average accuracy per row label, from its accuracy.csv and levels.csv."""
    return fidelity.run_rows(accuracy.set_index("method"), levels)


def tau_rows(runs: dict[str, pd.Series], keys: list[str]) -> pd.DataFrame:
    """Long rows (run, quantity, value): each run's Kendall tau against each reference, so the
    over-seeds summary gives tau's mean and interval beside the accuracies'."""
    rows = []
    for key in keys:
        reference = fidelity.REFERENCES[key]
        for run, ours in runs.items():
            value = fidelity.tau(reference, ours)
            rows.append({"run": run, "quantity": f"Kendall tau, {key}", "value": value})
    return pd.DataFrame(rows, columns=["run", "quantity", "value"]).dropna()


def orderings_over_seeds(reference: fidelity.Reference, runs: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per pair of ranked rows (the paper's better one first): the paper's margin, the
    runs' mean margin with its 95% half-width, the seeds where it holds, and whether it holds
    over seeds (the interval's lower end above zero)."""
    per_run = [fidelity.orderings(reference, ours).assign(run=run) for run, ours in runs.items()]
    long = pd.concat(per_run, ignore_index=True)
    out = []
    for (better, worse), group in long.groupby(["better", "worse"], sort=False):
        stats = interval(group["here"])
        out.append(
            {
                "better": better,
                "worse": worse,
                "paper": group["paper"].iloc[0],
                "here": stats["mean"],
                "ci95": stats["ci95"],
                "seeds holding": f"{int(group['holds'].sum())}/{len(group)}",
                "holds over seeds": stats["mean"] - stats["ci95"] > 0,
            }
        )
    return pd.DataFrame(out)


def markdown(member: str, runs: dict[str, pd.Series], keys: list[str]) -> str:
    text = ""
    for key in keys:
        reference = fidelity.REFERENCES[key]
        taus = {run: fidelity.tau(reference, ours) for run, ours in runs.items()}
        if all(t is None for t in taus.values()):
            continue
        mean = pd.concat(runs, axis=1).mean(axis=1)
        pairs = orderings_over_seeds(reference, runs)
        text += f"\n### How well {member} predicts {reference.title}, over seeds\n\n"
        text += "Kendall tau per seed: " + ", ".join(f"{r} {t}" for r, t in taus.items())
        text += f"; tau of the mean ranking: **{fidelity.tau(reference, mean)}**. "
        held = int(pairs["holds over seeds"].sum())
        text += f"{held} of {len(pairs)} pairwise orderings hold over seeds (the mean margin's "
        text += "95% interval above zero).\n\n"
        text += pairs.to_markdown(index=False, floatfmt=".2f") + "\n"
    return text
