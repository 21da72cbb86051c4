"""What the merges chose: hyper-parameters picked on val, and coefficients learned without
labels on unlabelled test batches (AdaMerging, WeMoE), from the merged checkpoints' sidecars."""

from __future__ import annotations

from pathlib import Path

from neulig.reporting.inputs import ReportInputs
from neulig.reporting.labels import label

LEARNED_NOTE = (
    "AdaMerging and WeMoE learn their coefficients by minimising prediction entropy on "
    "*unlabelled test* batches, as their papers and the NeuLig paper's Table 2 do (test-time "
    "adaptation: labels are never read). RegMean's Gram matrices and Fisher's information use "
    "train images (Fisher also their labels)."
)


def _searched(info: dict) -> str | None:
    name = info.get("searched")
    if not name:
        return None
    scores = ", ".join(f"{v}: {a:.2f}" for v, a in info["val_accuracy"].items())
    return f"- {label(info['method'])}: {name} = {info['hparams'][name]} (val accuracy {scores})"


def _learned(info: dict) -> str | None:
    learned = info.get("coefficients")
    if not learned:
        return None
    entropy = learned.get("entropy", {})
    text = f"- {label(info['method'])}: "
    lambdas = learned.get("lambdas", {})
    if lambdas:
        means = {
            t: v if isinstance(v, float) else sum(v.values()) / len(v) for t, v in lambdas.items()
        }
        text += "lambda " + ", ".join(f"{t} {v:.3f}" for t, v in means.items()) + "; "
    if "routing_mean" in learned:
        blocks = learned["routing_mean"]
        per_expert = [sum(b[k] for b in blocks) / len(blocks) for k in range(len(blocks[0]))]
        text += (
            "mean routing "
            + ", ".join(f"{t} {v:.3f}" for t, v in zip(learned["experts"], per_expert, strict=True))
            + "; "
        )
    if entropy:
        text += f"test entropy {entropy['initial']:.3f} -> {entropy['final']:.3f}"
    return text.rstrip("; ")


def write_section(inputs: ReportInputs, out: Path) -> str:
    """Markdown only: each merge's chosen hyper-parameters and learned coefficients."""
    infos = inputs.merge_infos
    searched = [line for line in map(_searched, infos) if line]
    learned = [line for line in map(_learned, infos) if line]
    text = ""
    if searched:
        text += "\n## Hyper-parameters chosen on val\n\n" + "\n".join(searched) + "\n"
    if learned:
        text += "\n## Coefficients learned without labels\n\n" + LEARNED_NOTE + "\n\n"
        text += "\n".join(learned) + "\n"
    return text
