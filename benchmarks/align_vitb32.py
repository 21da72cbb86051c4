"""Benchmark: MuDSC alignment of two random-weight ViT-B/32 vision towers on 2 CPU threads.

Writes wall time and peak RSS to ``benchmarks/align_vitb32.json`` (target: < 10 min, < 8 GiB).
Run from the repository root: ``python benchmarks/align_vitb32.py``.
"""

from __future__ import annotations

import json
import logging
import platform
import resource
import time
from pathlib import Path

import torch

from neulig.align import align
from neulig.models import create_clip

log = logging.getLogger(__name__)

IMAGES = 256
BATCH_SIZE = 64
THREADS = 2


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(name)s %(message)s")
    torch.set_num_threads(THREADS)
    reference = create_clip("ViT-B-32", None, seed=0).visual
    other = create_clip("ViT-B-32", None, seed=1).visual
    calibration = torch.randn(IMAGES, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    result = align("mudsc", reference, other, calibration, lam=0.5, seed=0, batch_size=BATCH_SIZE)
    wall = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    report = {
        "model": "ViT-B-32 (random weights)",
        "method": "mudsc",
        "lam": 0.5,
        "calibration_images": IMAGES,
        "batch_size": BATCH_SIZE,
        "torch_threads": THREADS,
        "wall_time_s": round(wall, 1),
        "peak_rss_gib": round(peak_gib, 2),
        "sweeps": result.diagnostics["sweeps"],
        "objective": round(result.diagnostics["objective"], 6),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    log.info("wrote %s: %s", out, report)


if __name__ == "__main__":
    main()
