"""What the DAG contains for one experiment: tasks, datasets, combinations, model names, paths.

``workflow/rules/common.smk`` builds one :class:`Plan` from the validated config and every rule
takes its paths from it, so a path is spelled once. Every output of an experiment lives under
``results/<experiment>/``, ``reports/<experiment>/``, ``logs/<experiment>/`` and
``benchmarks/rules/<experiment>/``; two configs with different ``experiment:`` names run in one
checkout without touching each other's files. Datasets are shared: a task's folder under
``data/`` is named by what it holds (source, split sizes, seed), not by the experiment.

Kept free of torch so that planning a run (``snakemake -n``) stays fast.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

from neulig.catalogue import merge_methods
from neulig.data.layout import dataset_files
from neulig.errors import ConfigError
from neulig.io import sidecar
from neulig.records import combo_name, model_name

# Keys of a task's config that do not change its data.
_NOT_DATA = ("finetune",)


def data_spec(task_config: dict, seed: int) -> dict:
    """The part of a task's config (plus the seed) that determines its packed dataset."""
    return {"spec": {k: v for k, v in task_config.items() if k not in _NOT_DATA}, "seed": seed}


def dataset_key(task: str, spec: dict, canonical: dict | None) -> str:
    """``<task>`` for the shipped default's data of that task, else ``<task>-<digest>``.

    Naming a folder by its content means two experiments asking for the same data build it
    once, and two asking for different data under one task name never overwrite each other.
    """
    if canonical is not None and spec == canonical:
        return task
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return f"{task}-{digest}"


def combos(tasks: list[str], min_models: int, max_combinations: int, seed: int) -> list[str]:
    """Every combination of ``min_models``..T tasks as ``a+b+c``; a model count with more than
    ``max_combinations`` combinations is sampled with ``seed`` (sorted, so stable)."""
    rng = random.Random(seed)
    out = []
    for k in range(min_models, len(tasks) + 1):
        group = list(combinations(sorted(tasks), k))
        if len(group) > max_combinations:
            group = sorted(rng.sample(group, max_combinations))
        out += [combo_name(c) for c in group]
    return out


@dataclass
class Plan:
    """The experiment's DAG contents; ``canonical`` maps task names to the default's data spec."""

    config: dict
    canonical: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # keys the schema cannot check fail here, while the Snakefile is parsed, not in a rule
        # (a suite's own Plan names paths only: it has no experts)
        if "experts" in self.config and self.origin == "diverse":
            self.reference  # noqa: B018 (its ConfigError is the check)

    @property
    def experiment(self) -> str:
        return self.config["experiment"]

    @cached_property
    def tasks(self) -> list[str]:
        return sorted(self.config["tasks"])

    @property
    def merge_methods(self) -> list[str]:
        return self.config["merge"]["methods"]

    @property
    def merge_plugins(self) -> list[str]:
        """Modules of the researcher's own merge methods: every job naming a method loads them."""
        return self.config["merge"]["plugins"]

    def per_input(self, method: str) -> bool:
        return merge_methods(self.merge_plugins)[method].per_input

    def per_task(self, method: str) -> bool:
        return merge_methods(self.merge_plugins)[method].per_task

    @property
    def task_model_methods(self) -> list[str]:
        """The per-task methods (one model per task): their merge job scores them, and writes
        records and a sidecar but no checkpoint."""
        return [m for m in self.merge_methods if self.per_task(m)]

    @property
    def checkpoint_methods(self) -> list[str]:
        """The merge methods whose merge job writes one merged checkpoint."""
        return [m for m in self.merge_methods if not self.per_task(m)]

    @property
    def ensemble_methods(self) -> list[str]:
        return self.config["ensemble"]["methods"]

    @cached_property
    def models(self) -> list[str]:
        """Every single network that is evaluated on its own (one features file each); a
        per-input merge is no single network (its counterpart job scores it), nor is a
        per-task one (its merge job scores it)."""
        singles = [m for m in self.checkpoint_methods if not self.per_input(m)]
        return (
            [model_name("zero_shot")]
            + [model_name("expert", t) for t in self.tasks]
            + [model_name("merge", m) for m in singles]
        )

    @property
    def counterparts(self) -> list[str]:
        """The merge methods scored at prediction level too (one job each)."""
        catalogue = merge_methods(self.merge_plugins)
        return [m for m in self.merge_methods if catalogue[m].counterpart]

    @cached_property
    def combos(self) -> list[str]:
        nl = self.config.get("neulig")
        if not nl:
            return []
        return combos(self.tasks, nl["min_models"], nl["max_combinations"], self.config["seed"])

    @cached_property
    def pairs(self) -> list[str]:
        """Every pair of tasks, ``a+b``, when Figure 3's methods are configured."""
        if not self.config.get("pairs", {}).get("methods"):
            return []
        return [combo_name(p) for p in combinations(self.tasks, 2)]

    def pair_record_files(self) -> list[str]:
        methods = self.config["pairs"]["methods"] if self.pairs else []
        return [self.results("pairs", m, f"{p}.json") for m in methods for p in self.pairs]

    @cached_property
    def compared_losses(self) -> list[str]:
        """Router losses run over all tasks beside ``neulig.loss`` (the levels table's rows)."""
        nl = self.config.get("neulig") or {}
        return [loss for loss in nl.get("compare_losses", []) if loss != nl.get("loss")]

    def router_params(self, loss: str | None = None) -> dict:
        """A router's settings: the ``neulig`` keys, with the recipe of its loss (``neulig.loss``
        unless given) over them. ``min_models`` and ``max_combinations`` shape the DAG, not a
        router, so they stay out (they would make every router a rerun trigger)."""
        nl = self.config["neulig"]
        shape = ("min_models", "max_combinations", "recipes")
        router = {k: v for k, v in nl.items() if k not in shape}
        router["loss"] = loss or router["loss"]
        recipe = nl.get("recipes", {}).get(router["loss"], {})
        return {**router, **recipe, "seed": self.config["seed"], "device": self.config["device"]}

    def compared_record_files(self) -> list[str]:
        combo = combo_name(self.tasks)
        return [
            self.results(f"neulig_{loss}", combo, "records.json") for loss in self.compared_losses
        ]

    @cached_property
    def align_settings(self) -> list[str]:
        align = self.config.get("alignment")
        if not align:
            return []
        return ["different_init"] + (["shared_init"] if align["shared_init"] else [])

    # -- expert origin ---------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return self.config["experts"]["origin"]

    @cached_property
    def reference(self) -> str:
        """The expert that keeps the shared pretrained tower (and the others align onto)."""
        ref = self.config["experts"]["reference"] or self.tasks[0]
        if ref not in self.tasks:
            raise ConfigError(f"config key 'experts.reference': {ref!r} is not one of {self.tasks}")
        return ref

    @cached_property
    def diverse_seeds(self) -> dict[str, int]:
        """Task -> the seed of its own vision tower (diverse origin; empty when shared)."""
        if self.origin == "shared":
            return {}
        others = [t for t in self.tasks if t != self.reference]
        return {t: self.config["seed"] + 1 + self.tasks.index(t) for t in others}

    def unaligned_expert(self, task: str) -> str:
        """A diverse-origin expert as fine-tuned from its own tower, before alignment."""
        return self.seeded_expert(task, self.diverse_seeds[task])

    def seeded_expert(self, task: str, seed) -> str:
        """An expert fine-tuned from the tower pretrained with ``seed`` (not the shared one)."""
        return self.results(f"finetune_seed{seed}", task, "vision.safetensors")

    # -- data ------------------------------------------------------------------------------
    def data_spec(self, task: str) -> dict:
        return data_spec(self.config["tasks"][task], self.config["seed"])

    def dataset(self, task: str) -> str:
        """The folder name under ``data/`` that holds ``task``'s packed arrays."""
        canonical = self.canonical.get(task)
        return dataset_key(task, self.data_spec(task), canonical)

    @cached_property
    def _datasets(self) -> dict[str, str]:
        return {self.dataset(t): t for t in self.tasks}

    def datasets(self) -> dict[str, str]:
        """Folder name under ``data/`` -> task; computed once (rules ask for it per job)."""
        return self._datasets

    def data_files(self, task: str) -> list[str]:
        """Every file of the task's packed dataset (``meta.json`` first)."""
        return dataset_files(f"data/{self.dataset(task)}")

    def meta(self, task: str) -> str:
        return f"data/{self.dataset(task)}/meta.json"

    # -- experiment paths ------------------------------------------------------------------
    def results(self, *parts: str) -> str:
        return "/".join(("results", self.experiment, *parts))

    def reports(self, *parts: str) -> str:
        return "/".join(("reports", self.experiment, *parts))

    @property
    def dvc_file(self) -> str:
        """DVC's declarations of the experiment's metrics and plots (git-tracked, outside the
        DVC-tracked ``reports/<experiment>/``)."""
        return "/".join(("dvc", self.experiment, "dvc.yaml"))

    def log(self, rule: str, *wildcards: str) -> str:
        return "/".join(("logs", self.experiment, rule, *wildcards)) + ".log"

    def benchmark(self, rule: str, *wildcards: str) -> str:
        return "/".join(("benchmarks", "rules", self.experiment, rule, *wildcards)) + ".tsv"

    def checkpoint(self, model: str) -> str:
        """The vision-tower checkpoint of a model named by :func:`neulig.records.model_name`."""
        kind, _, name = model.partition("_")
        if model == model_name("zero_shot"):
            return self.results("pretrained", "vision.safetensors")
        if kind == "expert" and name in self.diverse_seeds:
            return self.results("aligned", name, "vision.safetensors")
        if kind == "expert":
            return self.results("finetune", name, "vision.safetensors")
        return self.results("merge", name, "vision.safetensors")

    @property
    def heads(self) -> str:
        """The text-derived classification heads of every task (from the pretrained model)."""
        return self.results("pretrained", "heads.safetensors")

    sidecar = staticmethod(sidecar)

    def features(self, model: str) -> str:
        return self.results("features", f"{model}.safetensors")

    def record_files(self) -> list[str]:
        """Every records file the report reads."""
        files = [self.results("eval", f"{m}.json") for m in self.models]
        files += [self.results("ensemble", f"{m}.json") for m in self.ensemble_methods]
        files += [self.results("levels", f"{m}.json") for m in self.counterparts]
        files += [self.results("merge", m, "records.json") for m in self.task_model_methods]
        files += self.pair_record_files()
        files += [self.results("neulig", c, "records.json") for c in self.combos]
        align = self.config.get("alignment") or {}
        files += [
            self.results("align", s, m, "records.json")
            for s in self.align_settings
            for m in align.get("methods", [])
        ]
        return files

    def betas_files(self) -> list[str]:
        """NeuLig's diagnostics: mean beta per task, one file per combination."""
        return [self.results("neulig", c, "betas.json") for c in self.combos]

    def merge_info_files(self) -> list[str]:
        """The merged checkpoints' sidecars (a per-task method's without a checkpoint): the
        hyper-parameters each merge chose on val."""
        return [self.results("merge", m, "vision.json") for m in self.merge_methods]
