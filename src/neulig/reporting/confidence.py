"""Does an expert's confidence track its correctness? The measurement behind the entropy-trained
methods (AdaMerging, WeMoE, NeuLig semi).

Those methods pick, for each task's unlabelled inputs, the weights whose predictions through the
task's head have the lowest entropy. That is the right choice only when the task's own expert is
the most confident one there. From the experts' cached test features this module tabulates,
for every task's inputs, each expert's accuracy and mean prediction entropy, and names the tasks
where another expert is more confident than the task's own. It also measures how far apart each
head's two closest classes are: a head whose class texts embed almost alike caps how confident
even the task's own expert can be on them.
"""

from __future__ import annotations

import pandas as pd
import torch


def entropy(scores: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of ``softmax(scores)``, per row."""
    log_p = scores.log_softmax(dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


def confidence_table(cached: dict[str, dict], heads: dict) -> pd.DataFrame:
    """Rows: (inputs' task, expert); columns: accuracy (%) and mean entropy on test."""
    rows = []
    for task, head in heads.items():
        for expert, features in cached.items():
            scores = head(features[f"{task}/test"])
            labels = features[f"{task}/test/labels"]
            accuracy = float((scores.argmax(dim=-1) == labels).float().mean() * 100)
            rows.append(
                {
                    "inputs": task,
                    "expert": expert,
                    "accuracy": accuracy,
                    "entropy": float(entropy(scores).mean()),
                }
            )
    return pd.DataFrame(rows).set_index(["inputs", "expert"])


def misled_tasks(table: pd.DataFrame) -> dict[str, str]:
    """Task -> the more confident expert, where that is not the task's own."""
    most_confident = table["entropy"].groupby(level="inputs").idxmin()
    return {task: expert for task, (_, expert) in most_confident.items() if expert != task}


def closest_classes(heads: dict) -> pd.DataFrame:
    """Per task: the cosine of the head's two closest class embeddings and the widest logit
    margin the head allows between them, ``scale * (1 - cos)``."""
    rows = {}
    for task, head in heads.items():
        cos = head.weight @ head.weight.T
        closest = float(cos.masked_fill(torch.eye(len(cos), dtype=torch.bool), -1).max())
        rows[task] = {"cos": closest, "margin": head.scale * (1 - closest)}
    return pd.DataFrame.from_dict(rows, orient="index")


def closest_classes_line(heads: dict) -> str:
    closest = closest_classes(heads)
    return (
        "\nThe two closest classes of each head: cosine of their text embeddings (widest logit "
        "margin between them, scale x (1 - cos)): "
        + ", ".join(f"{t} {r.cos:.3f} ({r.margin:.2f})" for t, r in closest.iterrows())
        + ". Where the classes embed almost alike, even the task's own expert stays unsure "
        "between them, and mixtures of other experts' features can be more confident.\n"
    )


def confidence_markdown(table: pd.DataFrame, heads: dict | None = None) -> str:
    wide = table.unstack("expert").round(2)
    wide.columns = [f"{expert} {'acc' if m == 'accuracy' else 'H'}" for m, expert in wide.columns]
    misled = misled_tasks(table)
    text = "\n## Does confidence track correctness? (the entropy-trained methods' premise)\n\n"
    text += "Each expert on each task's test inputs, through that task's head: accuracy (%) and "
    text += "mean prediction entropy H (nats). Entropy minimisation can only find the right "
    text += "expert where the task's own is the most confident.\n\n"
    text += wide.to_markdown() + "\n\n"
    if misled:
        text += (
            "Another expert is more confident than the task's own on: "
            + ", ".join(f"{task} ({expert})" for task, expert in misled.items())
            + ".\n"
        )
    else:
        text += "On every task its own expert is the most confident.\n"
    return text + (closest_classes_line(heads) if heads else "")
