"""Figure helpers shared by every report section: one style, atomic PNG writes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neulig import io  # noqa: E402

# One colour per kind of collaboration, the same in every figure.
KIND_COLOURS = {
    "zero_shot": "#999999",
    "expert": "#2b8cbe",
    "merge": "#e6550d",
    "ensemble": "#31a354",
    "neulig": "#756bb1",
}


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG without a timestamp (byte-stable across reruns) and close it."""
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        # bbox "tight" keeps legends placed outside the axes inside the image
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
