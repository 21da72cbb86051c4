"""Merge methods on toy state dicts, against values computed by hand."""

import pytest
import torch

from neulig.merging import MERGE_METHODS, merge
from neulig.merging.methods import task_arithmetic, ties_merging, weight_average


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
    # density 0.5 keeps the 2 largest |tau| entries of the flattened model per expert:
    # a keeps (1, -2, _, _) -> (1, -2, 0, 0); b keeps (3, 2, _, _) -> (3, 2, 0, 0)
    # elected signs: (+, 0 -> sign(0) = 0 ...) sum = (4, 0, 0, 0) -> sign (+, 0, 0, 0)
    merged = ties_merging(THETA0, EXPERTS, scaling=1.0, density=0.5, merge_func="mean")
    assert torch.allclose(merged["w"], torch.tensor([2.0, 0.0, 0.0, 0.0]))
    summed = ties_merging(THETA0, EXPERTS, scaling=0.5, density=0.5, merge_func="sum")
    assert torch.allclose(summed["w"], torch.tensor([2.0, 0.0, 0.0, 0.0]))


def test_ties_sign_election_drops_the_minority():
    experts = {"a": sd(1.0, 0.0), "b": sd(2.0, 0.0), "c": sd(-1.5, 0.0)}
    merged = ties_merging(sd(0.0, 0.0), experts, scaling=1.0, density=1.0)
    assert torch.allclose(merged["w"], torch.tensor([1.5, 0.0]))  # mean of 1 and 2; -1.5 dropped


def test_registry_dispatch_and_unknown_method():
    assert set(MERGE_METHODS) == {"average", "task_arithmetic", "ties"}
    assert torch.equal(merge("average", THETA0, EXPERTS)["w"], weight_average(THETA0, EXPERTS)["w"])
    with pytest.raises(KeyError, match="unknown merge method 'nope'"):
        merge("nope", THETA0, EXPERTS)


def test_merging_real_modules_matches_parameter_mean():
    layers = [torch.nn.Linear(3, 2) for _ in range(5)]
    states = {str(i): layer.state_dict() for i, layer in enumerate(layers)}
    merged = weight_average(layers[0].state_dict(), states)
    expected = torch.stack([layer.weight.data for layer in layers]).mean(0)
    assert torch.allclose(merged["weight"], expected)
