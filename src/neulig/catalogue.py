"""Every method's declaration, read without importing torch: merge methods, ensembles, router
losses and alignment methods.

A merge method is one module: ``METHOD = MergeMethod(label=..., ...)`` and ``merge(ctx,
**hparams)``; the module's last name is the method's name in the config. The built-in ones are
the modules of :mod:`neulig.merging.methods`; a researcher's own are modules named in the
config's ``merge.plugins`` (importable, e.g. on ``PYTHONPATH``). The schema's enum, the plan's
jobs, the report's labels and row order all read this catalogue; :mod:`neulig.merging.registry`
imports the module itself only when a job runs it.

Declarations are parsed from the source rather than imported: the Snakefile validates the
config and plans ~80 jobs on every call, and every report job labels its rows; importing the
methods (torch, open_clip) would cost each of them seconds.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from neulig.errors import ConfigError

BUILTIN_PACKAGE = "neulig.merging.methods"
BUILTIN_DIR = Path(__file__).parent / "merging" / "methods"


@dataclass(frozen=True)
class MergeMethod:
    """One merge method as the workflow and the report see it.

    ``paper_rank``: its row in the NeuLig paper's Table 2 (None: after those, by name).
    ``counterpart``: it has a prediction-level twin with the same coefficients; the module then
    defines ``coefficients(info, tasks, routing) -> (c_0, c)`` (:mod:`neulig.merging.levels`).
    ``per_input``: every input gets its own merged network, so no checkpoint holds it; the
    module then defines ``forward_per_input(ctx, state, images) -> (features, routing)``, and the
    counterpart job scores the merge too.
    ``per_task``: one model per task, used with that task's identity (like NeuLig's per-task
    granularity); the module defines ``task_model(ctx, task, **hparams)`` instead of ``merge``,
    and its merge job scores each task's test split with that task's model (merge level only:
    no checkpoint, no twin). The report marks its rows (:data:`PER_TASK_NOTE`).
    """

    label: str
    paper_rank: int | None = None
    counterpart: bool = False
    per_input: bool = False
    per_task: bool = False
    name: str = ""
    module: str = ""


def _declaration(path: Path, module: str) -> MergeMethod:
    """The ``METHOD = MergeMethod(...)`` of a module's source, its literal keywords only."""
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if getattr(target, "id", None) == "METHOD" and isinstance(node.value, ast.Call):
            try:
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords}
                return MergeMethod(**kwargs, name=module.rpartition(".")[2], module=module)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"{path}: METHOD = MergeMethod(...) not literal ({err})") from err
    raise ConfigError(f"{path}: no METHOD = MergeMethod(label=...) declaration")


def _plugin_path(module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        raise ConfigError(f"merge.plugins: cannot find module {module!r} ({err})") from err
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ConfigError(f"merge.plugins: no Python module {module!r} on the import path")
    return Path(spec.origin)


@cache
def _merge_methods(plugins: tuple[str, ...]) -> dict[str, MergeMethod]:
    builtins = sorted(m.name for m in pkgutil.iter_modules([str(BUILTIN_DIR)]))
    found = [_declaration(BUILTIN_DIR / f"{n}.py", f"{BUILTIN_PACKAGE}.{n}") for n in builtins]
    found += [_declaration(_plugin_path(m), m) for m in plugins]
    methods: dict[str, MergeMethod] = {}
    for method in found:
        if method.name in methods:
            raise ConfigError(f"merge.plugins: {method.module} reuses the name {method.name!r}")
        methods[method.name] = method
    return methods


# The report's mark on a per-task method's rows, and the note that explains it: such a method
# knows each input's task, which a single merged model does not.
PER_TASK_MARK = " (per task)"
PER_TASK_NOTE = (
    "(per task): one model per task, used knowing the task of each input (as NeuLig's per-task "
    "granularity): each task is scored with its own model; merge level only, no ensemble twin."
)

# The prediction-level ensembles (the keys of neulig.ensemble.ENSEMBLE_METHODS).
ENSEMBLE_LABELS = {
    "probabilities": "Ensemble (average of probabilities)",
    "features": "Ensemble (average of features)",
}
# NeuLig's router losses (the keys of neulig.ligand.TASK_LOSSES); a router's records carry theirs.
ROUTER_LOSSES = ("supervised", "semi")
# How an alignment job permutes one expert onto another (the keys of
# neulig.align.ALIGN_METHODS), in the report's order.
ALIGN_LABELS = {
    "identity": "no alignment",
    "weight": "weight only",
    "activation": "activation only",
    "mudsc": "MuDSC",
}

_PLUGINS: list[str] = []


def use_plugins(modules: Iterable[str]) -> None:
    """Add the config's ``merge.plugins`` to this process's catalogue (the Snakefile and every
    job that names a method: merge, pair, counterpart, report)."""
    _PLUGINS.extend(m for m in modules if m not in _PLUGINS)


def merge_methods(plugins: Iterable[str] = ()) -> dict[str, MergeMethod]:
    """Name -> declaration of every built-in method, the plugins in use and ``plugins``, in the
    paper's Table 2 order, then the others by name."""
    methods = _merge_methods(tuple(dict.fromkeys([*_PLUGINS, *plugins])))
    ordered = sorted(methods.values(), key=lambda m: (m.paper_rank is None, m.paper_rank, m.name))
    return {m.name: m for m in ordered}


def merge_method(name: str) -> MergeMethod:
    methods = merge_methods()
    if name not in methods:
        known = ", ".join(methods)
        raise ConfigError(f"merge.methods: unknown method {name!r}; known: {known}")
    return methods[name]
