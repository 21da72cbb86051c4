# Helpers shared by the stage files. What the DAG contains (tasks, datasets, combinations,
# model names) and every path come from neulig.plan, so they are spelled once.
import re

from neulig.catalogue import ROUTER_LOSSES
from neulig.config import exit_on_config_error, load_config
from neulig.data.layout import dataset_files
from neulig.plan import Plan, data_spec
from neulig.records import combo_name, combo_tasks, model_name

# The shipped default's data specs: a task whose data matches keeps the plain folder name
# data/<task>; any other spec gets its own folder, so experiments never overwrite each other.
_DEFAULT = load_config(
    NEULIG_DIR / "config/config.yaml",
    NEULIG_DIR / "workflow/schemas/config.schema.yaml",
)
P = exit_on_config_error(
    Plan,
    config,
    {t: data_spec(s, _DEFAULT["seed"]) for t, s in _DEFAULT["tasks"].items()},
)
EXP = P.experiment
ALIGN = config.get("alignment") or {}


wildcard_constraints:
    task="|".join(P.tasks),
    dataset="|".join(re.escape(d) for d in P.datasets()),
    model="|".join(P.models),
    method="[a-z_]+",
    combo="[a-z0-9_+]+",
    seed="[0-9]+",
    setting="different_init|shared_init",
    loss="|".join(ROUTER_LOSSES),


def one_of(names):
    """A wildcard constraint matching exactly ``names``; none matches nothing (an empty pattern
    would leave the wildcard unconstrained)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


def data_inputs(tasks):
    """The packed files of ``tasks``: ``meta`` (passed as --data) and the arrays beside them."""
    files = [P.data_files(t) for t in tasks]
    return {"meta": [f[0] for f in files], "arrays": [a for f in files for a in f[1:]]}


def get_task_data(wildcards):
    return data_inputs([wildcards.task])


def get_all_data(wildcards):
    return data_inputs(P.tasks)


def pretrained_weights(wildcards):
    """A local weights file named by model.pretrained: an input, so a new file reruns the step."""
    tag = config["model"]["pretrained"]
    return {"weights": tag} if tag and os.path.isfile(tag) else {}


def get_combo_data(wildcards):
    return data_inputs(combo_tasks(wildcards.combo))


def download_params(wildcards):
    return P.data_spec(P.datasets()[wildcards.dataset])


def pretrain_params(seed=None):
    recipe = {
        **config["pretrain"],
        "seed": config["seed"] if seed is None else int(seed),
    }
    other_init_steps = recipe.pop("other_init_steps", None)
    if seed is not None and other_init_steps:  # a vision tower of another seed
        recipe["steps"] = other_init_steps
    # unset: no key, so the params (a rerun trigger) stay as they were
    scale = config["model"].get("logit_scale")
    return {
        "model": config["model"]["name"],
        "pretrained": config["model"]["pretrained"],
        "recipe": recipe,
        "device": config["device"],
        **({"logit_scale": scale} if scale else {}),
    }


def finetune_params(task):
    recipe = {**config["finetune"], **config["tasks"][task].get("finetune", {})}
    return {**recipe, "seed": config["seed"], "device": config["device"]}


def plugin_params():
    """The config's merge plugins, for every job that names a merge method; absent when there
    are none, so that the built-in methods' params (a rerun trigger) stay as they were.
    """
    return {"plugins": P.merge_plugins} if P.merge_plugins else {}


def merge_params(method):
    slice_ = config["merge"].get(method, {"hparams": {}, "search": {}})
    return {
        **slice_,
        **plugin_params(),
        "seed": config["seed"],
        "device": config["device"],
    }


def align_params():
    keys = ("lam", "lam_grid", "calibration_images")
    params = {k: ALIGN[k] for k in keys}
    if ALIGN["neulig"]:
        params["neulig"] = P.router_params()  # NeuLig over the aligned pair
    return {**params, "seed": config["seed"], "device": config["device"]}


def origin_params():
    keys = ("align_method", "lam", "calibration_images")
    return {k: config["experts"][k] for k in keys} | {
        "seed": config["seed"],
        "device": config["device"],
    }


def get_diverse_expert(wildcards):
    """A diverse-origin expert before alignment, the reference it aligns onto, both tasks' data."""
    reference = P.checkpoint(f"expert_{P.reference}")
    other = P.unaligned_expert(wildcards.task)
    return {
        "reference": reference,
        "other": other,
        "infos": [P.sidecar(p) for p in (reference, other)],
        **data_inputs([P.reference, wildcards.task]),
    }


def get_counterpart_inputs(wildcards):
    """A merge's sidecar and every feature cache; a per-input merge also needs the checkpoints
    and the test images, since its merged network is rebuilt for every input."""
    merged = P.results("merge", wildcards.method, "vision.safetensors")
    inputs = {
        "info": P.sidecar(merged),
        "pretrained_features": P.features("pretrained"),
        "features": [P.features(f"expert_{t}") for t in P.tasks],
        "heads": P.heads,
    }
    if P.per_input(wildcards.method):
        pretrained = P.checkpoint("pretrained")
        inputs |= {"model": merged, "pretrained": pretrained}
        inputs |= {"pretrained_info": P.sidecar(pretrained)}
        inputs |= {"experts": expert_checkpoints(), "infos": expert_sidecars()}
        inputs |= data_inputs(P.tasks)
    return inputs


def per_input_args(wildcards, input):
    if not P.per_input(wildcards.method):
        return ""
    return (
        f"--model {input.model} --pretrained {input.pretrained} --experts {input.experts}"
        f" --data {input.meta}"
    )


def get_pair_inputs(wildcards):
    tasks = combo_tasks(wildcards.combo)
    pretrained = P.checkpoint("pretrained")
    return {
        "pretrained": pretrained,
        "pretrained_info": P.sidecar(pretrained),
        "pretrained_features": P.features("pretrained"),
        "experts": expert_checkpoints(tasks),
        "infos": expert_sidecars(tasks),
        "features": [P.features(f"expert_{t}") for t in tasks],
        "heads": P.heads,
        **data_inputs(tasks),
    }


def get_checkpoint(wildcards):
    path = P.checkpoint(wildcards.model)
    return {"model": path, "info": P.sidecar(path)}


def encode_splits(wildcards):
    # Experts' train/val features feed the NeuLig router; other models only need test.
    return "train val test" if wildcards.model.startswith("expert_") else "test"


def expert_checkpoints(tasks=None):
    return [P.checkpoint(f"expert_{t}") for t in tasks or P.tasks]


def expert_sidecars(tasks=None):
    return [P.sidecar(p) for p in expert_checkpoints(tasks)]


def get_combo_models(wildcards):
    tasks = combo_tasks(wildcards.combo)
    return {
        "experts": expert_checkpoints(tasks),
        "infos": expert_sidecars(tasks),
        "features": [P.features(f"expert_{t}") for t in tasks],
    }


def get_align_inputs(wildcards):
    """The reference expert (shared init) and the expert aligned onto it."""
    reference, other = ALIGN["pair"]
    other_path = P.checkpoint(f"expert_{other}")
    if wildcards.setting == "different_init":
        seed = ALIGN["other_init_seed"]
        other_path = P.seeded_expert(other, seed)
    ref_path = P.checkpoint(f"expert_{reference}")
    return {
        "reference": ref_path,
        "other": other_path,
        "infos": [P.sidecar(p) for p in (ref_path, other_path)],
        **data_inputs(ALIGN["pair"]),
    }


def every_output():
    """Every file a run writes: the default target asks for all of them, since Snakemake
    rebuilds a missing file only when a job that must run asks for it. Without this, a file lost
    to a killed job or deleted as corrupt stays lost while the files made from it exist, and
    `dvc add` records the folder without it. Plain paths, not expand() over rules.*.output,
    which carry flags under --default-storage-provider.
    """
    files = [f for d in P.datasets() for f in dataset_files(f"data/{d}")]
    files += list(rules.pretrain_clip.output) + list(rules.report_tables.input)
    return files + networks() + [P.features(m) for m in P.models] + side_outputs()


def networks():
    """Every checkpoint a run trains, merges or aligns, with its JSON sidecar."""
    nets = expert_checkpoints()
    nets += [P.results("merge", m, "vision.safetensors") for m in P.checkpoint_methods]
    nets += [P.unaligned_expert(t) for t in P.diverse_seeds]
    seeds = set(P.diverse_seeds.values())
    if ALIGN:
        seed, other = ALIGN["other_init_seed"], ALIGN["pair"][1]
        seeds.add(seed)
        nets.append(P.seeded_expert(other, seed))
    nets += [P.results(f"pretrained_seed{s}", "vision.safetensors") for s in seeds]
    return nets + [P.sidecar(n) for n in nets]


def side_outputs():
    """What a run writes that no later step reads: routers, Figure 3's merge sidecars, the
    aligned pairs' checkpoints."""
    router = ("router.safetensors", "router.json", "betas.json", "records.json")
    runs = [("neulig", c) for c in P.combos]
    runs += [(f"neulig_{loss}", combo_name(P.tasks)) for loss in P.compared_losses]
    files = [P.results(*run, f) for run in runs for f in router]
    methods = config["pairs"]["methods"] if P.pairs else []
    files += [P.results("pairs", m, f"{p}.info.json") for m in methods for p in P.pairs]
    aligned = ("vision.safetensors", "vision.json", "perms.safetensors")
    methods = ALIGN.get("methods", [])
    settings = P.align_settings
    files += [
        P.results("align", s, m, f) for s in settings for m in methods for f in aligned
    ]
    return files


# The arrays every packed dataset holds beside its meta.json.
ARRAY_FILES = [os.path.basename(f) for f in dataset_files("data/x")[1:]]
