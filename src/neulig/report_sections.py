"""Every section of an experiment's report: its files, their captions, the config that asks for it.

``report.smk`` (``mudsc.smk`` for MuDSC's miniature) declares the report rule's outputs from the
configured sections and the report writer runs exactly those (each section's writer is
``neulig.reporting.sections.<name>.write_section``), so no section writes a file its config did
not ask for. The files DVC compares (metrics, plots) are marked here too: each experiment's
``dvc/<experiment>/dvc.yaml`` is written from them (:func:`dvc_declarations`).
Kept free of pandas and torch: the Snakefile reads it on every call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from neulig.config import experiment_kind

Wanted = Callable[[dict], bool]


def always(config: dict) -> bool:
    return True


def asks_for(key: str) -> Wanted:
    """Whether the config key ``block.key`` holds a non-empty value."""

    def wanted(config: dict) -> bool:
        value = config
        for part in key.split("."):
            value = (value or {}).get(part)
        return bool(value)

    return wanted


def _pairs_wanted(config: dict) -> bool:
    # Figure 3's points: the pair merges, and NeuLig's routers over two experts
    return asks_for("pairs.methods")(config) or config["neulig"]["min_models"] == 2


@dataclass(frozen=True)
class Plot:
    """How ``dvc plots`` draws a CSV file: its columns on x and y, one of DVC's templates."""

    title: str
    x: str
    y: str
    template: str


@dataclass(frozen=True)
class ReportFile:
    """One file under ``reports/<experiment>/``, named ``key`` among the rule's outputs.

    ``caption`` (``workflow/report/<caption>.rst``) and ``category`` place it in Snakemake's
    HTML report (None: not shown there); ``wanted``: whether the config asks for the file,
    beside asking for its section. ``metric`` (a JSON file) and ``plot`` declare it to DVC."""

    key: str
    path: str
    caption: str | None = None
    category: str | None = None
    wanted: Wanted = always
    metric: bool = False
    plot: Plot | None = None


@dataclass(frozen=True)
class ReportSection:
    """``wanted``: whether the config asks for the section; ``kind``: the kind of experiment
    whose report holds it (:func:`neulig.config.experiment_kind`)."""

    name: str
    files: tuple[ReportFile, ...] = ()
    wanted: Wanted = always
    kind: str = "clip"

    def files_for(self, config: dict) -> list[ReportFile]:
        return [f for f in self.files if f.wanted(config)]


# In the order of accuracy.md.
SECTIONS = (
    ReportSection(
        "accuracy",
        (
            ReportFile("csv", "accuracy.csv", "accuracy", "Tables"),
            ReportFile("md", "accuracy.md"),
            ReportFile("metrics", "metrics.json", metric=True),
            ReportFile(
                "plot_accuracy",
                "plots/average_accuracy.csv",
                plot=Plot(
                    "average test accuracy per method", "accuracy", "method", "bar_horizontal"
                ),
            ),
            ReportFile(
                "plot_gap",
                "plots/neulig_gap.csv",
                plot=Plot(
                    "NeuLig merge - ensemble gap by number of models", "n_models", "gap", "linear"
                ),
            ),
            ReportFile("by_task", "accuracy_by_task.png", "accuracy_by_task", "Figures"),
            ReportFile("summary", "merge_vs_ensemble.png", "merge_vs_ensemble", "Figures"),
        ),
    ),
    ReportSection("levels", (ReportFile("levels", "levels.csv", "levels", "Tables"),)),
    ReportSection(
        "fidelity",
        (ReportFile("fidelity", "fidelity.json", metric=True),),
        wanted=asks_for("report.predicts"),
    ),
    ReportSection(
        "pairs",
        (
            ReportFile("pairs_table", "pairs.csv", "pairs", "Figure 3"),
            ReportFile("pairs_figure", "pairs.png", "pairs", "Figure 3"),
        ),
        wanted=_pairs_wanted,
    ),
    ReportSection(
        "neulig",
        (
            ReportFile("neulig_gap", "neulig_gap.csv", "neulig_gap", "NeuLig"),
            ReportFile("neulig_counts", "neulig_model_counts.png", "neulig_model_counts", "NeuLig"),
            ReportFile("neulig_gap_plot", "neulig_gap.png", "neulig_gap_plot", "NeuLig"),
            ReportFile("neulig_beta", "neulig_beta.png", "neulig_beta", "NeuLig"),
        ),
        wanted=asks_for("neulig"),
    ),
    ReportSection("confidence", (ReportFile("confidence", "confidence.csv"),)),
    ReportSection("selection"),
    ReportSection(
        "alignment",
        (
            ReportFile("alignment", "alignment.csv", "alignment", "Alignment"),
            ReportFile(
                "alignment_lambda",
                "alignment_lambda.png",
                "alignment_lambda",
                "Alignment",
                wanted=asks_for("alignment.lam_grid"),
            ),
        ),
        wanted=asks_for("alignment"),
    ),
    # MuDSC's homogeneous-task experiment in miniature: an experiment of its own (mudsc.smk)
    ReportSection(
        "mudsc",
        (
            ReportFile("csv", "mudsc.csv", "mudsc", "MuDSC"),
            ReportFile("md", "mudsc.md"),
            ReportFile("metrics", "metrics.json", metric=True),
            ReportFile("sweep", "mudsc_lambda.png", "mudsc_lambda", "MuDSC"),
            ReportFile("landscape", "mudsc_landscape.png", "mudsc_landscape", "MuDSC"),
        ),
        kind="mudsc",
    ),
)


def report_sections(config: dict) -> list[ReportSection]:
    """The sections ``config`` asks for, in the report's order."""
    kind = experiment_kind(config)
    return [s for s in SECTIONS if s.kind == kind and s.wanted(config)]


def report_files(config: dict) -> list[ReportFile]:
    """Every file of the sections ``config`` asks for."""
    return [f for s in report_sections(config) for f in s.files_for(config)]


def dvc_declarations(config: dict, reports: str, dvc_file: str) -> dict:
    """The body of the experiment's ``dvc.yaml``: its report's metrics and plots, with paths
    relative to that file's folder (``reports``: the experiment's report folder)."""
    files = report_files(config)
    folder = os.path.dirname(dvc_file)

    def path(file: ReportFile) -> str:
        return os.path.relpath(os.path.join(reports, file.path), folder)

    plots = [
        {path(f): {**vars(f.plot), "title": f"{config['experiment']}: {f.plot.title}"}}
        for f in files
        if f.plot
    ]
    declared = {"metrics": [path(f) for f in files if f.metric], "plots": plots}
    return {key: value for key, value in declared.items() if value}
