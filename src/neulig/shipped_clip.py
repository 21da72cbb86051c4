"""A pretrained tiny CLIP small enough to ship in the repository.

Most of a tiny CLIP's weights are its token embedding (49,408 BPE tokens), and pretraining
touches only the rows of tokens its captions use. Every other row stays the seeded
initialisation, shrunk by AdamW's decoupled weight decay by one common factor. The shipped file
keeps the touched rows, their ids, that factor and the seed; :func:`load` rebuilds the untouched
rows from the initialisation, so the loaded model equals the trained one to float rounding.
"""

from __future__ import annotations

import os

import torch

from neulig import io
from neulig.errors import ArtifactError
from neulig.models import create_clip

EMBEDDING = "token_embedding.weight"
ROWS, DECAY, SEED = "token_embedding.rows", "token_embedding.decay", "token_embedding.seed"


def is_shipped(path: str | os.PathLike) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return ROWS in f.keys()


def compact(state: dict[str, torch.Tensor], model_name: str, seed: int) -> dict[str, torch.Tensor]:
    """``state`` (a full CLIP's) with only the token-embedding rows pretraining changed."""
    init = create_clip(model_name, pretrained=None, seed=seed).state_dict()[EMBEDDING]
    trained = state[EMBEDDING]
    decay = ((trained * init).sum(dim=1) / (init * init).sum(dim=1)).median()  # most rows
    touched = ((trained - decay * init).abs().amax(dim=1) > 1e-6).nonzero().flatten()
    return {k: v for k, v in state.items() if k != EMBEDDING} | {
        EMBEDDING: trained[touched],
        ROWS: touched,
        DECAY: decay.reshape(1),
        SEED: torch.tensor([seed]),
    }


def load(model_name: str, path: str | os.PathLike) -> torch.nn.Module:
    """The full CLIP back from a file written by :func:`compact`."""
    state = io.load_tensors(path)
    seed = int(state.pop(SEED))
    model = create_clip(model_name, pretrained=None, seed=seed)
    embedding = model.state_dict()[EMBEDDING] * state.pop(DECAY)
    embedding[state.pop(ROWS)] = state[EMBEDDING]
    try:
        model.load_state_dict(state | {EMBEDDING: embedding})
    except RuntimeError as err:
        raise ArtifactError(
            f"{path}: not a {model_name} CLIP ({str(err).splitlines()[0]}); set model.name to "
            "the architecture it was trained as, or rebuild it with `make world-clip`"
        ) from None
    return model.eval()
