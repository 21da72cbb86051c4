"""Two Snakemake runs in one folder: while one holds the data it builds in its lock, Snakemake
refuses a second run that reads that data with a generic LockException. This says which data,
and what to do, in one line."""

from __future__ import annotations

import os
from pathlib import Path

from neulig.errors import ArtifactError

LOCKS = Path(".snakemake") / "locks"


def check_data_not_being_built(data_files: list[str]) -> None:
    """Raise :class:`ArtifactError` when another live Snakemake run in this folder builds a
    file of ``data_files`` (it holds it in its output lock until it ends; a stale lock is left
    to Snakemake, whose error names --unlock)."""
    busy = sorted({os.path.dirname(f) for f in set(data_files) & _locked_outputs()})
    if not busy or not _another_snakemake_here():
        return
    more = f" (and {len(busy) - 1} more)" if len(busy) > 1 else ""
    raise ArtifactError(
        f"{busy[0]}{more}: another snakemake run in this folder builds it and holds it locked "
        "until that run ends; start this experiment after that run, or next time build the data "
        "first (`snakemake --cores 2 --until download_dataset` with each experiment's "
        "--configfile), then start the experiments side by side"
    )


def _locked_outputs() -> set[str]:
    files: set[str] = set()
    for lock in LOCKS.glob("*.output.lock"):
        try:
            files.update(lock.read_text().splitlines())
        except OSError:  # released meanwhile
            continue
    return files


def _another_snakemake_here() -> bool:
    """Whether another process whose command is snakemake works in this folder (Linux /proc;
    False where there is none, leaving the case to Snakemake's own error)."""
    here = os.getcwd()
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            if os.readlink(proc / "cwd") != here:
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")[:3]
        except OSError:  # gone, or not ours to read
            continue
        if any(os.path.basename(arg) == b"snakemake" for arg in argv):
            return True
    return False
