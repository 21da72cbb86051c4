# Helpers shared by the stage files: task/model lists, config slices passed as `params:`.
import json
import random
import shlex
from itertools import combinations

TASKS = sorted(config["tasks"])
MERGE_METHODS = config["merge"]["methods"]
ENSEMBLE_METHODS = config["ensemble"]["methods"]
MODELS = (
    ["pretrained"]
    + [f"expert_{t}" for t in TASKS]
    + [f"merge_{m}" for m in MERGE_METHODS]
)
ENV = "../../envs/neulig.yaml"
NEULIG = config.get("neulig", {})


def neulig_combos():
    """All combinations of 2..T tasks, or a seeded sample where a model count has too many."""
    rng = random.Random(config["seed"])
    combos = []
    for k in range(NEULIG.get("min_models", 2), len(TASKS) + 1):
        group = list(combinations(TASKS, k))
        if len(group) > NEULIG.get("max_combinations", 32):
            group = sorted(rng.sample(group, NEULIG["max_combinations"]))
        combos += ["+".join(c) for c in group]
    return combos


COMBOS = neulig_combos() if NEULIG else []
ALIGN = config.get("alignment", {})
ALIGN_EXPERIMENTS = (
    (["different_init"] + (["shared_init"] if ALIGN.get("shared_init", True) else []))
    if ALIGN
    else []
)


wildcard_constraints:
    task="|".join(TASKS),
    method="[a-z_]+",
    model="|".join(MODELS),
    combo="[a-z0-9_+]+",
    seed="[0-9]+",
    experiment="different_init|shared_init",


def as_arg(value):
    """A config slice as one shell-quoted JSON argument (also what Snakemake's params trigger sees)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def data_files(task):
    return {"meta": f"data/{task}/meta.json"}


def all_data_meta():
    return expand("data/{task}/meta.json", task=TASKS)


def task_dirs():
    return [f"data/{t}" for t in TASKS]


def download_params(task):
    # The task's fine-tuning overrides do not change its data.
    spec = {k: v for k, v in config["tasks"][task].items() if k != "finetune"}
    return {"spec": spec, "seed": config["seed"]}


def pretrain_params():
    return {
        "model": config["model"]["name"],
        "pretrained": config["model"]["pretrained"],
        "recipe": {**config["pretrain"], "seed": config["seed"]},
        "device": config["device"],
    }


def finetune_params(task):
    recipe = {**config["finetune"], **config["tasks"][task].get("finetune", {})}
    return {**recipe, "seed": config["seed"], "device": config["device"]}


def merge_params(method):
    slice_ = config["merge"].get(method, {})
    return {
        "hparams": slice_.get("hparams", {}),
        "search": slice_.get("search", {}),
        "device": config["device"],
    }


def get_checkpoint(wildcards):
    model = wildcards.model
    if model == "pretrained":
        return "results/pretrained/vision.safetensors"
    if model.startswith("expert_"):
        return f"results/finetune/{model.removeprefix('expert_')}/vision.safetensors"
    return f"results/merge/{model.removeprefix('merge_')}/vision.safetensors"


def encode_splits(wildcards):
    # Experts' train/val features feed the NeuLig router; other models only need test.
    return "train val test" if wildcards.model.startswith("expert_") else "test"


def model_kind(wildcards):
    return wildcards.model.split("_", 1)[0]


def model_method(wildcards):
    kind, _, rest = wildcards.model.partition("_")
    return {"pretrained": "zero_shot", "expert": "expert"}.get(kind, rest)


def expert_checkpoints():
    return expand("results/finetune/{task}/vision.safetensors", task=TASKS)


def expert_features():
    return expand("results/features/expert_{task}.safetensors", task=TASKS)


def neulig_params():
    # min_models / max_combinations shape the DAG, not a router: keep them out of the trigger.
    router = {k: v for k, v in NEULIG.items() if k not in ("min_models", "max_combinations")}
    return {**router, "seed": config["seed"], "device": config["device"]}


def get_combo_meta(wildcards):
    return [f"data/{t}/meta.json" for t in wildcards.combo.split("+")]


def get_combo_experts(wildcards):
    return [
        f"results/finetune/{t}/vision.safetensors" for t in wildcards.combo.split("+")
    ]


def get_combo_features(wildcards):
    return [
        f"results/features/expert_{t}.safetensors" for t in wildcards.combo.split("+")
    ]


def seed_pretrain_params(seed):
    params = pretrain_params()
    return {**params, "recipe": {**params["recipe"], "seed": int(seed)}}


def align_params():
    keys = ("lam", "lam_grid", "calibration_images")
    params = {k: ALIGN[k] for k in keys if k in ALIGN}
    if ALIGN.get("neulig", True):
        params["neulig"] = neulig_params()  # NeuLig over the aligned pair
    return {**params, "seed": config["seed"], "device": config["device"]}


def get_align_inputs(wildcards):
    """The reference expert (shared init) and the expert aligned onto it."""
    reference, other = ALIGN["pair"]
    other_path = f"results/finetune/{other}/vision.safetensors"
    if wildcards.experiment == "different_init":
        other_path = f"results/finetune_seed{ALIGN['other_init_seed']}/{other}/vision.safetensors"
    return {
        "reference": f"results/finetune/{reference}/vision.safetensors",
        "other": other_path,
        "meta": [f"data/{t}/meta.json" for t in ALIGN["pair"]],
    }


def get_records():
    return (
        expand("results/eval/{model}.json", model=MODELS)
        + expand("results/ensemble/{method}.json", method=ENSEMBLE_METHODS)
        + expand("results/neulig/{combo}/records.json", combo=COMBOS)
        + expand(
            "results/align/{experiment}/{method}/records.json",
            experiment=ALIGN_EXPERIMENTS,
            method=ALIGN.get("methods", []),
        )
    )


def record_in_dvc():
    """Record a finished run in DVC, so `git status` shows only the .dvc files to commit."""
    if config.get("dvc", {}).get("track", True) and os.path.isdir(".dvc"):
        shell("dvc add --quiet data results reports")


def get_final_output():
    return ["reports/accuracy.md", "reports/accuracy.csv"]
