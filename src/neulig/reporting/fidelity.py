"""How well the miniature predicts the papers: its rows beside their published numbers.

A miniature is worth running only if it ranks the known methods as the real benchmark does. For
each reference table this module pairs the run's average accuracy with the published one,
computes Kendall's tau between the two rankings (:func:`scipy.stats.kendalltau`, tau-b) and
lists which of the paper's pairwise orderings hold here.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import pandas as pd
from scipy.stats import kendalltau

from neulig.records import MODEL_LABELS
from neulig.reporting.labels import label, per_task_note


@dataclass(frozen=True)
class Reference:
    """A published table: row label -> average accuracy; ``ranked`` are the rows tau ranks."""

    key: str
    title: str
    values: dict[str, float]
    ranked: tuple[str, ...]


# NeuLig (arXiv 2503.01268) Table 2, 5 tasks, merged models (NeuLig: per-sample merge). The paper
# does not say which AdaMerging variant its row is; tau ranks the layer-wise one.
TABLE_2B = Reference(
    "table2b",
    "NeuLig Table 2(b), CLIP ViT-B/32",
    {
        "Zero-shot (pretrained)": 59.01,
        "Fine-tuned experts (own task)": 94.80,
        "Weight averaging": 78.19,
        "Task arithmetic": 78.68,
        "TIES merging": 80.80,
        "RegMean": 83.16,
        "AdaMerging (layer-wise)": 88.65,
        "WeMoE": 89.76,
        "NeuLig (supervised)": 95.37,
        "NeuLig (semi)": 95.44,
    },
    (
        "Weight averaging",
        "Task arithmetic",
        "TIES merging",
        "RegMean",
        "AdaMerging (layer-wise)",
        "WeMoE",
        "NeuLig (supervised)",
        "NeuLig (semi)",
    ),
)
TABLE_2A = Reference(
    "table2a",
    "NeuLig Table 2(a), CLIP-RN50",
    {
        "Zero-shot (pretrained)": 51.8,
        "Fine-tuned experts (own task)": 91.91,
        "Weight averaging": 50.4,
        "Task arithmetic": 53.5,
        "TIES merging": 44.1,
        "NeuLig (supervised)": 91.47,
        "NeuLig (semi)": 92.07,
    },
    (
        "Zero-shot (pretrained)",
        "Weight averaging",
        "Task arithmetic",
        "TIES merging",
        "NeuLig (semi)",
    ),
)
# MuDSC (arXiv 2403.01753): mean scaled performance of its Taskonomy pairs (segment_semantic,
# normal, autoencoding), the one homogeneous table its code publishes.
MUDSC = Reference(
    "mudsc",
    "MuDSC, Taskonomy ResNet-50 pairs (mean scaled performance)",
    {
        "averaging": 0.240,
        "weight align": 0.320,
        "ZipIt": 0.657,
        "activation align": 0.567,
        "MuDSC-Align": 0.583,
        "MuDSC-Zip": 0.670,
    },
    ("averaging", "weight align", "ZipIt", "activation align", "MuDSC-Align", "MuDSC-Zip"),
)


def by_method(key: str, title: str, values: dict[str, float]) -> Reference:
    """A published table keyed by method id: its row labels come from the catalogue, so a
    method's name is declared once; every merged row (all but zero-shot and experts) is ranked."""
    labelled = {label(m): v for m, v in values.items()}
    ranked = tuple(label(m) for m in values if m not in MODEL_LABELS)
    return Reference(key, title, labelled, ranked)


# The 8-task benchmark (SUN397, Cars, RESISC45, EuroSAT, SVHN, GTSRB, MNIST, DTD), average
# absolute accuracy as each method's authors report it.
# Zero-shot to Iso-CTS: the Iso paper's Table 1 on the TALL-masks checkpoints (experts 92.8); EMR:
# its official logs (task_vectors checkpoints); PCB and WUDI: the WUDI README. Checkpoint families
# differ, so these rank methods rather than predict our numbers. No verified DARE number exists.
# EMR is a per-task model (it knows each input's task), ranked beside the single merged models
# as its authors rank it. TALL has no published 8-task average (its paper reports compression).
BENCH8 = by_method(
    "bench8",
    "the 8-task CLIP ViT-B/32 benchmark, as published by each method's authors",
    {
        "zero_shot": 48.3,
        "expert": 92.8,
        "task_arithmetic": 70.8,
        "ties": 75.1,
        "consensus_ta": 75.0,
        "pcb": 76.3,
        "wudi": 85.2,
        "tsv_m": 85.9,
        "iso_cts": 86.2,
        "iso_c": 86.3,
        "emr": 88.7,
    },
)
# FusionBench's table for its own Hugging Face experts, the ones config/paper8.yaml imports
# (docs/modelpool/clip_vit.md @ 54c9e8c; hyper-parameters "not fully optimised"; Iso-C/CTS at
# alpha 1.5, TA and TIES at lambda 0.3): the like-for-like reference for that profile.
FUSIONBENCH8 = by_method(
    "fusionbench8",
    "FusionBench's 8-task CLIP ViT-B/32 table (its published experts)",
    {
        "zero_shot": 48.2,
        "expert": 90.3,
        "average": 66.5,
        "task_arithmetic": 68.0,
        "adamerging_task": 68.7,
        "fisher": 70.6,
        "ties": 72.2,
        "regmean": 82.4,
        "adamerging_layer": 82.6,
        "iso_cts": 82.7,
        "iso_c": 82.8,
        "wudi": 84.5,
        "wemoe": 89.2,
    },
)
REFERENCES = {r.key: r for r in (TABLE_2B, TABLE_2A, MUDSC, BENCH8, FUSIONBENCH8)}


def tau(reference: Reference, ours: pd.Series) -> float | None:
    """Kendall's tau over the ranked rows the run has (None with fewer than three)."""
    rows = [r for r in reference.ranked if r in ours.index and pd.notna(ours[r])]
    if len(rows) < 3:
        return None
    value = kendalltau([reference.values[r] for r in rows], [ours[r] for r in rows]).statistic
    return round(float(value), 3)


def orderings(reference: Reference, ours: pd.Series) -> pd.DataFrame:
    """Every pair of ranked rows: the paper's order, and whether the run's agrees."""
    rows = [r for r in reference.ranked if r in ours.index and pd.notna(ours[r])]
    out = []
    for a, b in combinations(rows, 2):
        better, worse = (a, b) if reference.values[a] >= reference.values[b] else (b, a)
        out.append(
            {
                "better": better,
                "worse": worse,
                "paper": reference.values[better] - reference.values[worse],
                "here": ours[better] - ours[worse],
            }
        )
    frame = pd.DataFrame(out, columns=["better", "worse", "paper", "here"])
    return frame.assign(holds=frame["here"] > 0)


def side_by_side(reference: Reference, ours: pd.Series) -> pd.DataFrame:
    """The reference's rows: published value, the run's, and both ranks among the ranked rows."""
    frame = pd.DataFrame({"paper": pd.Series(reference.values), "here": ours})
    frame = frame.loc[[r for r in reference.values if r in ours.index]]
    ranked = frame.loc[[r for r in reference.ranked if r in frame.index]]
    frame["paper rank"] = ranked["paper"].rank(ascending=False)
    frame["rank here"] = ranked["here"].rank(ascending=False)
    frame.index.name = "row"
    return frame


def fidelity_markdown(reference: Reference, ours: pd.Series) -> str:
    frame = side_by_side(reference, ours)
    if frame.empty:
        return ""
    pairs = orderings(reference, ours)
    value = tau(reference, ours)
    text = f"\n### How well this run predicts {reference.title}\n\n"
    printed = frame.astype(object).where(frame.notna(), None)  # tabulate prints None as "-"
    text += printed.to_markdown(floatfmt=".2f", missingval="-") + "\n" + per_task_note(frame.index)
    text += "\n"
    text += f"Kendall tau over the ranked rows: **{value if value is not None else 'n/a'}** "
    text += f"({int(pairs['holds'].sum())} of {len(pairs)} pairwise orderings hold).\n"
    turned = pairs[~pairs["holds"]]
    if len(turned) > 8:
        text += f"{len(turned)} orderings turned round or tied here.\n"
    elif not turned.empty:
        text += (
            "Turned round here: "
            + "; ".join(f"{r.better} > {r.worse} ({r.here:+.2f})" for r in turned.itertuples())
            + ".\n"
        )
    return text


def run_rows(accuracy: pd.DataFrame, levels: pd.DataFrame) -> pd.Series:
    """The run's average accuracy per row label: merged models from the levels table (NeuLig's
    per-sample merge per loss), zero-shot and experts from the main table."""
    rows = accuracy["Average"].copy()
    if not levels.empty:
        rows = pd.concat([rows.drop(levels.index, errors="ignore"), levels[("Average", "Mer.")]])
    return rows


def section(keys: list[str], accuracy: pd.DataFrame, levels: pd.DataFrame) -> tuple[str, dict]:
    """The report's fidelity text and its DVC metrics (tau and orderings held per reference)."""
    ours = run_rows(accuracy, levels)
    text, metrics = "", {}
    for key in keys:
        reference = REFERENCES[key]
        text += fidelity_markdown(reference, ours)
        pairs = orderings(reference, ours)
        metrics[key] = {
            "tau": tau(reference, ours),
            "orderings_held": int(pairs["holds"].sum()),
            "orderings": len(pairs),
        }
    return text, metrics
