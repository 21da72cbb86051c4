"""NeuLig options that follow the original code: router length in epochs, shuffled per-batch
evaluation order, label-free router selection, and L_a's offsets over the whole state dict."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from neulig.dynamic_merge import ExpertStack
from neulig.evaluate import accuracy
from neulig.ligand import Portland, TaskFeatures, offset_keys, parameter_offsets, train_router
from neulig.ligand.granularities import merged_features
from neulig.ligand.router import entropy_loss, fuse, router_schedule, selection_scores
from neulig.ligand.run import eval_order, fit_router, temperatures
from neulig.models import Head
from neulig.reporting.sections.neulig import temperature_line

PARAMS = {
    "seed": 0,
    "normalize": False,
    "temperature": 1.0,
    "lr": 1e-2,
    "loss": "semi",
    "alpha": 0.0,
    "beta": 1.0,
    "batch_size": 64,
    "steps": 30,
    "epochs": None,
    "eval_every": 3,
    "select": "val_accuracy",
}


def _task_data(n_per_task: dict[str, int], seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    data, heads = {}, {}
    for t, (name, n) in enumerate(n_per_task.items()):
        labels = torch.randint(0, 3, (n,), generator=gen)
        z = torch.randn(n, 2, 4, generator=gen)
        z[:, t % 2, :3] += 2 * nn.functional.one_hot(labels, 3)
        data[name] = TaskFeatures(z, labels)
        heads[name] = Head(torch.eye(4)[:3], 10.0)
    return data, heads


def test_router_length_in_epochs_of_the_smallest_task():
    train, heads = _task_data({"a": 300, "b": 1000})
    # an epoch is min_t ceil(N_t / 64) = ceil(300 / 64) = 5 steps
    assert router_schedule(train, {**PARAMS, "epochs": 4, "eval_every": 2}) == (20, 10)
    assert router_schedule(train, PARAMS) == (30, 3)  # steps mode: unchanged
    _, info = train_router(
        train, train, heads, torch.zeros(2), {**PARAMS, "epochs": 4, "eval_every": 2}
    )
    assert info["steps"] == 20 and [h["step"] for h in info["history"]] == [10, 20]


def test_selection_scores_by_hand():
    val, heads = _task_data({"a": 50, "b": 70})
    router = Portland(2, 4)
    scores = selection_scores(router, val, heads)
    logits = {t: heads[t](fuse(router(d.features), d.features)) for t, d in val.items()}
    acc = [(lg.argmax(1) == val[t].labels).float().mean().item() * 100 for t, lg in logits.items()]
    ent = [entropy_loss(lg).item() for lg in logits.values()]
    assert scores["val_accuracy"] == pytest.approx(sum(acc) / 2, abs=1e-3)
    assert scores["val_entropy"] == pytest.approx(sum(ent) / 2, abs=1e-5)


def test_val_entropy_selection_is_label_free():
    train, heads = _task_data({"a": 200, "b": 200})
    val, _ = _task_data({"a": 100, "b": 100}, seed=1)
    scrambled = {t: TaskFeatures(d.features, d.labels.roll(1)) for t, d in val.items()}
    runs = {}
    for select in ("val_accuracy", "val_entropy"):
        for name, v in (("true", val), ("scrambled", scrambled)):
            params = {**PARAMS, "select": select}
            runs[select, name] = train_router(train, v, heads, torch.zeros(2), params)
    _, info = runs["val_entropy", "true"]
    entropies = [h["val_entropy"] for h in info["history"]]
    assert info["best_step"] == info["history"][entropies.index(min(entropies))]["step"]
    assert info["select"] == "val_entropy"
    # without labels in the selection, scrambling the val labels changes nothing
    for key in runs["val_entropy", "true"][0].state_dict():
        a, b = (runs["val_entropy", n][0].state_dict()[key] for n in ("true", "scrambled"))
        assert torch.equal(a, b)
    _, info = runs["val_accuracy", "true"]
    accuracies = [h["val_accuracy"] for h in info["history"]]
    assert info["best_step"] == info["history"][accuracies.index(max(accuracies))]["step"]


def test_shuffled_batches_follow_the_seeded_order(towers, images):
    stack = ExpertStack(towers[0], [t.state_dict() for t in towers])
    betas = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(3)), -1)
    task_beta, global_beta = torch.tensor([0.2, 0.3, 0.5]), torch.tensor([0.6, 0.2, 0.2])
    order = eval_order(6, {"eval_shuffle": True, "seed": 0})
    assert torch.equal(order, eval_order(6, {"eval_shuffle": True, "seed": 0}))
    assert not torch.equal(order, torch.arange(6))
    assert eval_order(6, {"eval_shuffle": False, "seed": 0}) is None

    def run(granularity, order):
        return merged_features(stack, granularity, images, betas, task_beta, global_beta, 3, order)

    first = run("batch_first", order)
    for batch in order.split(3):  # one network per shuffled batch, from its first input's beta
        expected = stack.forward_static(betas[batch[0]], images[batch])
        assert torch.allclose(first[batch], expected, atol=1e-5)
    mean_rule = run("batch_mean", order)
    expected = stack.forward_static(betas[order[3:]].mean(0), images[order[3:]])
    assert torch.allclose(mean_rule[order[3:]], expected, atol=1e-5)
    assert not torch.allclose(first, run("batch_first", None), atol=1e-4)
    for granularity in ("per_sample", "per_task", "global"):  # no batches: order-free
        assert torch.equal(run(granularity, order), run(granularity, None))


def test_offsets_over_the_state_dict_add_batchnorm_buffers():
    experts = []
    for steps in (1, 5, 2):  # experts trained for different numbers of steps
        net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2)).train()
        for _ in range(steps):
            net(torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(steps)))
        experts.append(net)
    params_keys = offset_keys(experts[0], "parameters")
    state_keys = offset_keys(experts[0], "state")
    assert params_keys == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert set(state_keys) - set(params_keys) == {
        "1.running_mean", "1.running_var", "1.num_batches_tracked"
    }  # fmt: skip
    states = [e.state_dict() for e in experts]
    totals = torch.tensor(
        [sum(sd[k].double().sum() for k in state_keys) for sd in states], dtype=torch.float64
    )
    expected = ((totals - totals.mean()) / totals.std()).float()
    assert torch.allclose(parameter_offsets(states, state_keys), expected, atol=1e-6)
    assert not torch.allclose(parameter_offsets(states, params_keys), expected, atol=1e-3)
    with pytest.raises(ValueError, match="offsets"):
        offset_keys(experts[0], "buffers")


def test_vit_offsets_are_the_same_either_way(towers):
    assert offset_keys(towers[0], "parameters") == offset_keys(towers[0], "state")


class _CubedBetaStack:
    """A stand-in for ExpertStack whose "merge" weighs each expert's features by beta cubed,
    so a soft beta loses accuracy as a merge of experts from different basins does."""

    def forward_per_sample(self, betas, z):
        return (betas**3 / (betas**3).sum(-1, keepdim=True)).unsqueeze(-1).mul(z).sum(1)


def _val_tasks(val: dict[str, TaskFeatures]) -> dict:
    """Packed-task stand-ins whose val "images" are the features the fake stack mixes."""
    split = {t: SimpleNamespace(tensors=lambda d=d: (d.features, d.labels)) for t, d in val.items()}
    return {t: SimpleNamespace(splits={"val": s}) for t, s in split.items()}


def _merge_accuracy(router, stack, val, heads) -> float:
    accs = [
        accuracy(heads[t](stack.forward_per_sample(router(d.features), d.features)), d.labels)
        for t, d in val.items()
    ]
    return sum(accs) / len(accs)


def test_a_temperature_list_keeps_the_best_val_merge():
    train, heads = _task_data({"a": 200, "b": 200})
    val, _ = _task_data({"a": 100, "b": 100}, seed=1)
    split, tasks = {"train": train, "val": val}, _val_tasks(val)
    stack, grid = _CubedBetaStack(), [0.25, 1.0, 4.0]

    def fit(temperature):
        params = {**PARAMS, "temperature": temperature}
        return fit_router(split, heads, torch.zeros(2), params, "cpu", stack, tasks)

    singles = [fit(t) for t in grid]
    assert all("temperature" not in info for _, info in singles)  # one value: nothing scored
    scores = [_merge_accuracy(router, stack, val, heads) for router, _ in singles]
    assert len(set(scores)) > 1  # the temperature matters in this setting
    router, info = fit(grid)
    best = scores.index(max(scores))
    assert best == 2  # not the first: the selection is tested, not the order
    assert info["temperature"] == grid[best] and router.temperature == grid[best]
    tried = {str(t): round(s, 4) for t, s in zip(grid, scores, strict=True)}
    assert info["val_merge_accuracy"] == tried
    assert torch.equal(router.linear.weight, singles[best][0].linear.weight)
    assert temperatures({"temperature": 0.5}) == [0.5]


def test_the_report_says_which_temperature_each_combination_ran_with():
    betas = [
        {"combo": "a+b", "temperature": 0.25},
        {"combo": "a+c", "temperature": 0.25},
        {"combo": "a+b+c", "temperature": 0.5},
    ]
    line = temperature_line(betas)
    assert "0.25 in 2 of 3, 0.5 in 1 of 3; 3 models: 0.5" in line
    assert temperature_line(betas[:2]) == "Router temperature: 0.25 in every combination.\n\n"
    assert temperature_line([{"combo": "a+b"}]) == ""  # routers from before it was recorded


def test_a_loss_recipe_reaches_only_the_routers_trained_with_that_loss(tmp_path):
    import yaml

    from neulig.config import load_config
    from neulig.plan import Plan

    from .workflow_helpers import SCHEMA, TEST_CONFIG, snakemake, workdir_with

    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["neulig"]["recipes"] = {"semi": {"lr": 1.0e-3, "temperature": 0.25}}
    path = workdir_with(tmp_path, config) / "config" / "config.yaml"
    plan = Plan(load_config(path, SCHEMA))
    main, semi = plan.router_params(), plan.router_params("semi")
    assert (main["loss"], main["lr"], main["temperature"]) == ("supervised", 1.0e-2, 1.0)
    assert (semi["loss"], semi["lr"], semi["temperature"]) == ("semi", 1.0e-3, 0.25)
    assert semi["steps"] == main["steps"] and "recipes" not in main | semi
    config["neulig"]["recipes"] = {"entropy": {"lr": 1.0}}
    bad = snakemake("-n", "--configfile", "config/config.yaml", cwd=workdir_with(tmp_path, config),
                    check=False)  # fmt: skip
    assert bad.returncode == 1 and "config key 'neulig.recipes'" in bad.stderr
