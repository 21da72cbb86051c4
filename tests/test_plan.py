"""The planner: combinations (with the seeded sampling branch), dataset folders, paths."""

from itertools import combinations

import pytest

from neulig.errors import ConfigError
from neulig.plan import Plan, combos, data_spec, dataset_key
from neulig.records import Record, combo_name, combo_tasks, model_name, parse_model

TASKS = ["a", "b", "c", "d", "e"]


def test_every_combination_of_two_to_t_tasks():
    out = combos(TASKS, 2, 32, seed=0)
    assert len(out) == 10 + 10 + 5 + 1
    assert out[0] == "a+b" and out[-1] == "a+b+c+d+e"
    assert combos(["b", "a"], 2, 32, 0) == ["a+b"]  # task order does not matter


def test_a_crowded_model_count_is_sampled_with_the_seed():
    out = combos(TASKS, 2, 4, seed=0)
    pairs = [c for c in out if c.count("+") == 1]
    assert len(pairs) == 4 and pairs == sorted(pairs)
    assert set(pairs) <= {"+".join(p) for p in combinations(TASKS, 2)}
    assert [c.count("+") + 1 for c in out] == [2] * 4 + [3] * 4 + [4] * 4 + [5]
    assert combos(TASKS, 2, 4, seed=0) == out  # same seed, same sample
    assert any(combos(TASKS, 2, 4, seed=s) != out for s in range(1, 5))


def test_dataset_folders_are_named_by_content():
    spec = data_spec({"source": "shapes", "n": 100, "finetune": {"lr": 0.1}}, seed=0)
    assert "finetune" not in spec["spec"]  # a fine-tuning override does not change the data
    assert dataset_key("shapes", spec, canonical=spec) == "shapes"
    other = data_spec({"source": "shapes", "n": 200}, seed=0)
    key = dataset_key("shapes", other, canonical=spec)
    assert key.startswith("shapes-") and key == dataset_key("shapes", other, canonical=None)
    assert dataset_key("shapes", data_spec({"source": "shapes", "n": 100}, 1), spec) != key


def _config(experiment="x", origin="shared", **neulig):
    return {
        "experiment": experiment,
        "seed": 0,
        "experts": {"origin": origin, "reference": None},
        "tasks": {"b": {"source": "shapes"}, "a": {"source": "gratings"}},
        "merge": {"methods": ["average"], "plugins": []},
        "ensemble": {"methods": ["features"]},
        "neulig": {"min_models": 2, "max_combinations": 32, **neulig},
    }


def test_paths_are_namespaced_by_experiment_and_data_is_shared():
    one, two = Plan(_config("one")), Plan(_config("two"))
    assert one.checkpoint("expert_a") == "results/one/finetune/a/vision.safetensors"
    assert one.checkpoint("pretrained") == "results/one/pretrained/vision.safetensors"
    assert one.checkpoint("merge_average") == "results/one/merge/average/vision.safetensors"
    assert one.log("merge_experts", "ties") == "logs/one/merge_experts/ties.log"
    assert one.benchmark("r", "w") == "benchmarks/rules/one/r/w.tsv"
    assert one.reports("accuracy.csv") == "reports/one/accuracy.csv"
    assert one.data_files("a") == two.data_files("a")
    assert one.data_files("a")[0].endswith("/meta.json") and len(one.data_files("a")) == 9
    assert one.models == ["pretrained", "expert_a", "expert_b", "merge_average"]
    assert one.combos == ["a+b"]
    # 4 evaluated models, 1 ensemble, averaging's counterpart, 1 router
    assert len(one.record_files()) == 4 + 1 + 1 + 1


def test_a_per_input_merge_is_scored_by_its_counterpart_job_not_as_one_model():
    config = _config()
    config["merge"]["methods"] = ["ties", "wemoe"]
    plan = Plan(config)
    assert "merge_wemoe" not in plan.models and "merge_ties" in plan.models
    assert plan.counterparts == ["wemoe"]  # TIES is merge-only
    assert "results/x/levels/wemoe.json" in plan.record_files()


def test_a_per_task_method_is_scored_by_its_merge_job_without_a_checkpoint():
    config = _config()
    config["merge"]["methods"] = ["average", "tall", "emr"]
    plan = Plan(config)
    assert plan.task_model_methods == ["tall", "emr"] and plan.checkpoint_methods == ["average"]
    assert plan.models == ["pretrained", "expert_a", "expert_b", "merge_average"]
    assert plan.counterparts == ["average"]  # merge level only: no twin
    records = plan.record_files()
    assert "results/x/merge/tall/records.json" in records
    assert "results/x/merge/emr/records.json" in records
    assert "results/x/merge/emr/vision.json" in plan.merge_info_files()  # its sidecar


def test_diverse_experts_get_their_own_tower_seed_and_are_aligned_onto_the_reference():
    plan = Plan(_config(origin="diverse"))
    assert plan.reference == "a"  # the first task keeps the shared pretrained tower
    assert plan.diverse_seeds == {"b": 2}  # seed + 1 + its index among the sorted tasks
    assert plan.checkpoint("expert_a") == "results/x/finetune/a/vision.safetensors"
    assert plan.checkpoint("expert_b") == "results/x/aligned/b/vision.safetensors"
    assert plan.unaligned_expert("b") == "results/x/finetune_seed2/b/vision.safetensors"
    config = _config(origin="diverse")
    config["experts"]["reference"] = "z"
    with pytest.raises(ConfigError, match="experts.reference"):
        Plan(config).checkpoint("expert_b")


def test_model_names_round_trip():
    assert parse_model(model_name("zero_shot")) == ("zero_shot", "zero_shot")
    assert parse_model(model_name("expert", "digits")) == ("expert", "expert")
    assert parse_model(model_name("merge", "task_arithmetic")) == ("merge", "task_arithmetic")
    with pytest.raises(ValueError):
        parse_model("ensemble_features")


def test_records_reject_words_outside_the_vocabulary(tmp_path):
    from neulig.io import ArtifactError, write_json
    from neulig.records import read_records, write_records

    row = Record("m", "average", "merge", "merge", "a", 12.345678, 10)
    assert row.accuracy == 12.3457
    with pytest.raises(ValueError):
        Record("m", "average", "mrege", "merge", "a", 1.0, 10)
    write_records(tmp_path / "ok.json", [row])
    assert read_records(tmp_path / "ok.json") == [row]
    write_json(tmp_path / "bad.json", [{**row.to_dict(), "colour": "red"}])
    with pytest.raises(ArtifactError, match="bad.json"):
        read_records(tmp_path / "bad.json")


def test_named_paths_are_the_ones_rules_cli_and_reporting_share():
    plan = Plan(_config("one"))
    assert plan.heads == "results/one/pretrained/heads.safetensors"
    assert plan.sidecar(plan.checkpoint("expert_a")) == "results/one/finetune/a/vision.json"
    assert plan.seeded_expert("b", 7) == "results/one/finetune_seed7/b/vision.safetensors"
    assert combo_tasks(combo_name(["a", "b", "c"])) == ["a", "b", "c"]
    assert plan.combos == [combo_name(plan.tasks)]
