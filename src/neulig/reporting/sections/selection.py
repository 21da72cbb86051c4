"""Which hyper-parameters the merges chose on val (from the merged checkpoints' sidecars)."""

from __future__ import annotations

from neulig.reporting.labels import label


def selection_markdown(infos: list[dict]) -> str:
    lines = []
    for info in infos:
        name = info.get("searched")
        if not name:
            continue
        scores = ", ".join(f"{v}: {a:.2f}" for v, a in info["val_accuracy"].items())
        chosen = info["hparams"][name]
        lines.append(f"- {label(info['method'])}: {name} = {chosen} (val accuracy {scores})")
    if not lines:
        return ""
    return "\n## Hyper-parameters chosen on val\n\n" + "\n".join(lines) + "\n"
