"""Merge methods on toy state dicts, against values computed by hand."""

import pytest
import torch

from neulig.catalogue import merge_methods
from neulig.errors import ConfigError
from neulig.merging import MergeContext, merge
from neulig.merging.search import grid_search


def weight_average(pretrained, experts):
    return merge("average", MergeContext(pretrained, experts))


def task_arithmetic(pretrained, experts, scaling):
    return merge("task_arithmetic", MergeContext(pretrained, experts), scaling=scaling)


def ties_merging(pretrained, experts, **hparams):
    return merge("ties", MergeContext(pretrained, experts), **hparams)


def sd(*values):
    return {"w": torch.tensor(values, dtype=torch.float32)}


THETA0 = sd(0.0, 0.0, 0.0, 0.0)
EXPERTS = {"a": sd(1.0, -2.0, 0.5, 0.0), "b": sd(3.0, 2.0, -0.5, 0.1)}


def test_weight_average_is_the_mean():
    merged = weight_average(THETA0, EXPERTS)
    assert torch.allclose(merged["w"], torch.tensor([2.0, 0.0, 0.0, 0.05]))


def test_task_arithmetic_adds_scaled_task_vectors():
    theta0 = sd(1.0, 1.0, 1.0, 1.0)
    merged = task_arithmetic(
        theta0, {"a": sd(2.0, 1.0, 0.0, 1.0), "b": sd(1.0, 3.0, 1.0, 1.0)}, 0.5
    )
    # taus: a = (1, 0, -1, 0), b = (0, 2, 0, 0); 1 + 0.5 * (1, 2, -1, 0)
    assert torch.allclose(merged["w"], torch.tensor([1.5, 2.0, 0.5, 1.0]))


def test_ties_trims_elects_sign_and_takes_disjoint_mean():
    # density 0.5, d = 4: k = 4 - int(2.0) = 2, keep |tau| >= the 2nd smallest |tau| (3 entries)
    # a: |.| = (1, 2, .5, 0) -> threshold .5 -> (1, -2, .5, 0)
    # b: |.| = (3, 2, .5, .1) -> threshold .5 -> (3, 2, -.5, 0)
    # sum (4, 0, 0, 0) -> sign (+, 0, 0, 0); zeros take the majority sign(1 - 0) = + everywhere
    # disjoint mean of the positive entries: (mean(1, 3), 2, .5, 0)
    merged = ties_merging(THETA0, EXPERTS, scaling=1.0, density=0.5, merge_func="mean")
    assert torch.allclose(merged["w"], torch.tensor([2.0, 2.0, 0.5, 0.0]))
    summed = ties_merging(THETA0, EXPERTS, scaling=0.5, density=0.5, merge_func="sum")
    assert torch.allclose(summed["w"], torch.tensor([2.0, 1.0, 0.25, 0.0]))


def test_ties_sign_election_drops_the_minority():
    experts = {"a": sd(1.0, 0.0), "b": sd(2.0, 0.0), "c": sd(-1.5, 0.0)}
    merged = ties_merging(sd(0.0, 0.0), experts, scaling=1.0, density=1.0)
    assert torch.allclose(merged["w"], torch.tensor([1.5, 0.0]))  # mean of 1 and 2; -1.5 dropped


def test_registry_dispatch_and_unknown_method():
    assert {"average", "task_arithmetic", "ties"} <= set(merge_methods())
    assert torch.equal(weight_average(THETA0, EXPERTS)["w"], torch.tensor([2.0, 0.0, 0.0, 0.05]))
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        merge("nope", MergeContext(THETA0, EXPERTS))


def test_merging_real_modules_matches_parameter_mean():
    layers = [torch.nn.Linear(3, 2) for _ in range(5)]
    states = {str(i): layer.state_dict() for i, layer in enumerate(layers)}
    merged = weight_average(layers[0].state_dict(), states)
    expected = torch.stack([layer.weight.data for layer in layers]).mean(0)
    assert torch.allclose(merged["weight"], expected)


def test_grid_search_picks_the_best_and_breaks_ties_by_grid_order():
    scores = {0.0: 50.0, 0.1: 61.0, 0.3: 61.0, 1.0: 40.0}
    best, seen = grid_search([0.0, 0.1, 0.3, 1.0], scores.__getitem__)
    assert best == 0.1 and seen == scores
    best, _ = grid_search([0.3, 0.1], scores.__getitem__)  # listed first wins the tie
    assert best == 0.3


def test_search_merges_with_the_value_chosen_on_val(monkeypatch):
    from neulig.merging import search

    # val accuracy peaks at the merge whose weight is closest to 1.5
    monkeypatch.setattr(search, "val_accuracy", lambda ctx, state: -abs(state["w"][0].item() - 1.5))
    theta0 = sd(1.0)
    ctx = MergeContext(theta0, {"a": sd(2.0), "b": sd(2.0)})
    merged, hparams, choice = search.merge_with_search(
        "task_arithmetic", ctx, {}, {"scaling": [0.0, 0.25, 1.0]}
    )
    assert hparams == {"scaling": 0.25} and torch.allclose(merged["w"], torch.tensor([1.5]))
    assert choice["searched"] == "scaling" and set(choice["val_accuracy"]) == {"0.0", "0.25", "1.0"}


def test_context_loads_data_lazily_and_samples_with_its_seed(tmp_path):
    import numpy as np

    from neulig.data.packed import Split, Task, write_task

    images = np.arange(10 * 4 * 4 * 3, dtype=np.uint8).reshape(10, 4, 4, 3)
    split = Split(images, np.arange(10) % 2)
    write_task(tmp_path / "t", Task("t", ["a", "b"], ["{}"], {"val": split}, {}))
    ctx = MergeContext(THETA0, EXPERTS, data={"t": tmp_path / "t"}, seed=3)
    x, y = ctx.batch("t", "val")
    assert x.shape == (10, 4, 4, 3) and y.tolist() == [0, 1] * 5
    sample, _ = ctx.batch("t", "val", count=4)
    again, _ = MergeContext(THETA0, EXPERTS, data={"t": tmp_path / "t"}, seed=3).batch(
        "t", "val", 4
    )
    assert sample.shape[0] == 4 and torch.equal(sample, again)
