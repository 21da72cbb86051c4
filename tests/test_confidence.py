"""The confidence diagnostic: which expert is most confident on which task's inputs."""

from __future__ import annotations

import math

import pytest
import torch

from neulig.reporting.confidence import confidence_markdown, confidence_table, entropy, misled_tasks


class Identity:
    def __call__(self, z):
        return z


def test_entropy_of_uniform_and_certain_rows():
    scores = torch.tensor([[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]])
    assert entropy(scores).tolist() == pytest.approx([math.log(4), 0.0], abs=1e-6)


def test_an_off_task_expert_that_is_confidently_wrong_is_named():
    labels = torch.tensor([0, 1])
    right_but_unsure = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # own expert: correct, soft
    wrong_but_sure = torch.tensor([[0.0, 9.0], [9.0, 0.0]])  # other expert: wrong, confident
    cached = {  # on a's inputs b is confidently wrong; on b's inputs b is surest and right
        "a": {"a/test": right_but_unsure, "a/test/labels": labels,
              "b/test": right_but_unsure, "b/test/labels": labels},
        "b": {"a/test": wrong_but_sure, "a/test/labels": labels,
              "b/test": right_but_unsure * 9, "b/test/labels": labels},
    }  # fmt: skip
    table = confidence_table(cached, {"a": Identity(), "b": Identity()})
    assert table.loc[("a", "a"), "accuracy"] == 100 and table.loc[("a", "b"), "accuracy"] == 0
    assert misled_tasks(table) == {"a": "b"}
    assert "more confident than the task's own on: a (b)" in confidence_markdown(table)


def test_the_closest_classes_of_a_head_cap_its_margin():
    from neulig.models import Head
    from neulig.reporting.confidence import closest_classes

    apart = Head(torch.eye(3), scale=20.0)  # orthogonal class texts: margin 20
    texts = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1]]), dim=-1)
    alike = Head(texts, scale=20.0)  # near-duplicate class texts: cos 0.995
    got = closest_classes({"apart": apart, "alike": alike})
    assert got.loc["apart", "cos"] == pytest.approx(0.0) and got.loc["apart", "margin"] == 20.0
    assert got.loc["alike", "cos"] == pytest.approx(0.995, abs=1e-3)
    assert got.loc["alike", "margin"] == pytest.approx(20 * (1 - 0.995), abs=0.02)
    table = confidence_table({"alike": {"alike/test": torch.eye(2), "alike/test/labels":
                                        torch.tensor([0, 1])}}, {"alike": alike})  # fmt: skip
    assert "alike 0.995 (0.10)" in confidence_markdown(table, {"alike": alike})
