"""NeuLig: router, losses, and parameter-level merging at every granularity."""

import copy
import math

import pytest
import torch

from neulig.dynamic_merge import ExpertStack
from neulig.ligand import (
    Portland,
    TaskFeatures,
    alignment_loss,
    entropy_loss,
    fuse,
    parameter_offsets,
    supervised_loss,
    train_router,
)
from neulig.ligand.granularities import merged_features, static_betas
from neulig.merging.state_dict import mean
from neulig.models import Head, Preprocess


@pytest.fixture(scope="module")
def stack(towers):
    return ExpertStack(towers[0], [t.state_dict() for t in towers])


def test_one_hot_beta_reproduces_each_expert(stack, towers, images):
    x = Preprocess.for_tower(towers[0])(images)
    for t, tower in enumerate(towers):
        betas = torch.nn.functional.one_hot(torch.full((len(images),), t), 3).float()
        with torch.no_grad():
            expected = tower(x)
        assert torch.allclose(stack.forward_per_sample(betas, images), expected, atol=1e-5)
        assert torch.allclose(stack.forward_static(betas[0], images), expected, atol=1e-5)


def test_uniform_beta_is_weight_averaging(stack, towers, images):
    averaged = mean([t.state_dict() for t in towers])
    tower = copy.deepcopy(towers[0])
    tower.load_state_dict(averaged)
    with torch.no_grad():
        expected = tower(Preprocess.for_tower(tower)(images))
    uniform = torch.full((3,), 1 / 3)
    assert torch.allclose(stack.forward_static(uniform, images), expected, atol=1e-5)


def test_per_sample_merge_equals_slow_loop(stack, images):
    betas = torch.softmax(
        torch.randn(len(images), 3, generator=torch.Generator().manual_seed(1)), -1
    )
    fast = stack.forward_per_sample(betas, images, chunk=4)
    slow = torch.cat([stack.forward_static(b, images[i : i + 1]) for i, b in enumerate(betas)])
    assert torch.allclose(fast, slow, atol=1e-5)


def test_granularities_run_the_right_merged_networks(stack, images):
    betas = torch.softmax(
        torch.randn(len(images), 3, generator=torch.Generator().manual_seed(2)), -1
    )
    task_beta, global_beta = torch.tensor([0.2, 0.3, 0.5]), torch.tensor([0.6, 0.2, 0.2])

    def run(granularity):
        return merged_features(stack, granularity, images, betas, task_beta, global_beta, 3)

    first, mean_rule = run("batch_first"), run("batch_mean")
    assert torch.allclose(first[:3], stack.forward_static(betas[0], images[:3]), atol=1e-5)
    assert torch.allclose(first[3:], stack.forward_static(betas[3], images[3:]), atol=1e-5)
    expected = stack.forward_static(betas[3:].mean(0), images[3:])
    assert torch.allclose(mean_rule[3:], expected, atol=1e-5)
    assert torch.allclose(run("per_task"), stack.forward_static(task_beta, images), atol=1e-5)
    assert torch.allclose(run("global"), stack.forward_static(global_beta, images), atol=1e-5)
    assert torch.allclose(run("per_sample"), stack.forward_per_sample(betas, images), atol=1e-5)
    with pytest.raises(ValueError, match="granularity"):
        run("per_pixel")


def test_static_betas_come_from_val_means():
    val = {"a": torch.tensor([[1.0, 0.0], [0.0, 1.0]]), "b": torch.tensor([[1.0, 0.0]] * 2)}
    per_task, global_beta = static_betas(val)
    assert torch.equal(per_task["a"], torch.tensor([0.5, 0.5]))
    assert torch.equal(per_task["b"], torch.tensor([1.0, 0.0]))
    assert torch.equal(global_beta, torch.tensor([0.75, 0.25]))  # every val input weighs the same


def test_router_gets_gradients_and_experts_get_none(towers, images):
    router = Portland(n_experts=3, dim=64)
    x = Preprocess.for_tower(towers[0])(images)
    with torch.no_grad():  # experts are frozen: NeuLig only sees their cached features
        z = torch.stack([t(x) for t in towers], dim=1)
    head = Head(torch.nn.functional.normalize(torch.randn(4, 64), dim=-1), 10.0)
    beta = router(z)
    loss = supervised_loss(head(fuse(beta, z)), torch.tensor([0, 1, 2, 3, 0, 1]))
    loss = loss + 0.01 * alignment_loss(beta, torch.tensor([1.0, -1.0, 0.0]))
    loss.backward()
    assert router.linear.weight.grad.abs().sum() > 0
    assert all(p.grad is None for t in towers for p in t.parameters())
    assert torch.allclose(beta.sum(-1), torch.ones(len(images)))


def test_parameter_offsets_and_alignment_loss_by_hand():
    states = [
        {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0])},
        {"a": torch.tensor([0.0, 0.0]), "b": torch.tensor([3.0])},
        {"a": torch.tensor([4.0, 1.0]), "b": torch.tensor([1.0])},
    ]
    # sums 3, 3, 6; mean 4 -> S = (-1, -1, 2); std (unbiased) = sqrt(3); s = S / sqrt(3)
    s = parameter_offsets(states)
    assert torch.allclose(s, torch.tensor([-1.0, -1.0, 2.0]) / math.sqrt(3), atol=1e-6)
    beta = torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
    # per-sample sum_t beta_t s_t: -1/sqrt3 and (-0.4 + 1.2)/sqrt3 = 0.8/sqrt3
    expected = ((1 / 3) + (0.64 / 3)) / 2
    assert alignment_loss(beta, s).item() == pytest.approx(expected, rel=1e-6)


def test_supervised_and_semi_losses_on_a_known_batch():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1])
    p0 = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    ce = (-torch.log(p0[0]) - math.log(0.5)) / 2
    assert supervised_loss(logits, labels).item() == pytest.approx(ce.item(), rel=1e-6)
    h0 = -(p0 * torch.log(p0 + 1e-6)).sum()
    h1 = -2 * 0.5 * math.log(0.5 + 1e-6)
    assert entropy_loss(logits).item() == pytest.approx(((h0 + h1) / 2).item(), rel=1e-6)


def test_router_learns_to_pick_the_right_expert():
    # Expert t's features carry the label only on inputs of task t; the router must learn it.
    gen = torch.Generator().manual_seed(0)
    heads, train = {}, {}
    for t in range(2):
        labels = torch.randint(0, 2, (256,), generator=gen)
        signal = torch.nn.functional.one_hot(labels, 2).float() * 4 - 2
        z = torch.randn(256, 2, 4, generator=gen)
        z[:, t, :2] = signal
        z[:, t, 2] = 3.0  # a marker the router can read
        train[f"t{t}"] = TaskFeatures(z, labels)
        heads[f"t{t}"] = Head(torch.eye(4)[:2], 10.0)
    params = {
        "seed": 0,
        "normalize": False,
        "temperature": 1.0,
        "lr": 1e-2,
        "loss": "supervised",
        "alpha": 0.0,
        "beta": 1.0,
        "batch_size": 64,
        "steps": 100,
        "epochs": None,
        "eval_every": 50,
        "select": "val_accuracy",
    }
    router, info = train_router(train, train, heads, torch.zeros(2), params)
    assert info["best_val_accuracy"] > 95
    for t in range(2):
        assert router(train[f"t{t}"].features)[:, t].mean() > 0.55
