"""Atomic writes and safe checkpoint I/O.

Every artifact goes to a temporary file in its final folder and is renamed into place, so an
interrupted job never leaves a file that a later run could take as complete. Tensors are stored
as safetensors: nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neulig.errors import ArtifactError, ConfigError

if TYPE_CHECKING:  # torch loads on first tensor I/O: data and report steps never need it
    import torch

__all__ = ["ArtifactError", "ConfigError"]

# What a corrupt artifact's error tells the user: the default target asks for every file a run
# writes, so a plain `snakemake` rebuilds a deleted one and whatever was made from it.
REBUILD = "delete it and run the same `snakemake` command again to rebuild it"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); outputs get what open() would give them, so
        # a shared filesystem or a group-shared DVC cache can read them.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it: os.umask can only
    read it by setting it, which races with other threads creating files meanwhile."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: not found; build it with `snakemake {path}`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path}: corrupt JSON ({err}); {REBUILD}") from err


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def load_array(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: not found; run the download step for this task")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ArtifactError(f"{path}: corrupt array file ({err}); {REBUILD}") from err


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> None:
    """Save a flat dict of tensors as safetensors, atomically."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: not found; build it with `snakemake {path}`")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(
            f"{path}: corrupt or not a safetensors checkpoint ({err}); {REBUILD}"
        ) from err


def sidecar(path: str | os.PathLike) -> str:
    """The JSON sidecar beside a checkpoint (``x/vision.safetensors`` -> ``x/vision.json``)."""
    return os.fspath(Path(path).with_suffix(".json"))


def save_checkpoint(path: str | os.PathLike, state: dict[str, torch.Tensor], info: dict) -> None:
    """Save a state dict with its JSON sidecar (``<path minus suffix>.json``)."""
    path = Path(path)
    save_tensors(path, state)
    write_json(sidecar(path), info)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    return load_tensors(path), read_json(sidecar(path))
