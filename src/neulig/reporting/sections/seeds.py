"""Numbers over seeds: each suite member run once per seed, summarised as mean, standard
deviation and a 95% confidence interval (Student's t over seeds) for the zero-shot model and the
experts, the merging-vs-ensembling table's averages and NeuLig's gap per model count. Per-seed
values go to the CSV beside it.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd

from neulig.reporting.labels import per_task_note


def interval(values: pd.Series) -> dict[str, float]:
    """Mean, sample sd and the half-width of the 95% t-interval of the mean (NaN for n = 1)."""
    from scipy import stats  # about a second to import: only suites with seeds need it

    values = values.dropna()
    n = len(values)
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": float(values.mean()), "sd": sd, "ci95": half, "seeds": n}


# The NeuLig paper's ViT-B/32 regime on the task average (its Table 2(b)): each below the next.
REGIME = (
    "Zero-shot (pretrained)",
    "Weight averaging: Mer.",
    "Task arithmetic: Mer.",
    "TIES merging: Mer.",
    "Fine-tuned experts (own task)",
)
SINGLE_MODELS = ("zero_shot", "expert")


def per_seed(
    levels: dict[str, pd.DataFrame],
    gaps: dict[str, pd.DataFrame],
    accuracies: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Long table: one row per (seed run, quantity): the zero-shot model's and the experts'
    average accuracy (from ``accuracies``, each run's accuracy.csv), every method's average Mer.
    and Gap, and NeuLig's gap per model count."""
    rows = []
    for run, table in (accuracies or {}).items():
        for _, row in table[table["kind"].isin(SINGLE_MODELS)].iterrows():
            rows.append({"run": run, "quantity": row["method"], "value": row["Average"]})
    for run, table in levels.items():
        for method, row in table["Average"].iterrows():
            rows.append({"run": run, "quantity": f"{method}: Mer.", "value": row["Mer."]})
            rows.append({"run": run, "quantity": f"{method}: Gap", "value": row["Gap"]})
    for run, table in gaps.items():
        for n, gap in table.groupby("n_models")["gap"].mean().items():
            rows.append({"run": run, "quantity": f"NeuLig gap, {n} models", "value": gap})
    return pd.DataFrame(rows, columns=["run", "quantity", "value"])


def summary(long: pd.DataFrame) -> pd.DataFrame:
    """One row per quantity: mean, sd, 95% CI half-width and the number of seeds."""
    order = list(dict.fromkeys(long["quantity"]))
    table = pd.DataFrame({q: interval(g["value"]) for q, g in long.groupby("quantity")}).T
    return table.reindex(order).round(3)


def regime_line(table: pd.DataFrame) -> str:
    """Whether the means follow the paper's ViT-B/32 ordering (zero-shot < averaging < task
    arithmetic < TIES < experts), with the numbers; empty when a quantity is missing."""
    if not set(REGIME) <= set(table.index):
        return ""
    means = [float(table.loc[q, "mean"]) for q in REGIME]
    holds = all(a < b for a, b in itertools.pairwise(means))
    chain = f"{REGIME[0]} {means[0]:.2f}"
    for (a, b), name in zip(itertools.pairwise(means), REGIME[1:], strict=True):
        chain += f" {'<' if a < b else '>='} {name.split(':')[0]} {b:.2f}"
    verdict = "holds" if holds else "does not hold"
    return f"The paper's ViT-B/32 ordering on the means {verdict}: {chain}.\n\n"


def seeds_markdown(name: str, table: pd.DataFrame) -> str:
    text = f"\n## Over seeds: {name}\n\n"
    text += "Mean, sample standard deviation and 95% confidence interval half-width (Student's "
    text += "t) over the seeds of each quantity; Gap = Mer. - Ens.\n\n" + regime_line(table)
    flat = table.astype(object).where(table.notna(), None)
    text += flat.to_markdown(floatfmt=".2f", missingval="-") + "\n"
    return text + per_task_note(table.index)
