"""embed_nb: text embeddings in the notebook, on a llama.cpp engine that lives in the kernel.

The Python API::

    import embed_nb
    model = embed_nb.load_model("all-minilm-l6-v2")
    vectors = model.embed(["The cat sits on the mat", "A feline rests on the rug"])
"""

from __future__ import annotations

from .loading import load_model
from .errors import (
    EmbedNbError,
    InputTooLongError,
    InvalidInputError,
    ModelClosedError,
    ModelLoadError,
    ModelNotFoundError,
    NotARerankerError,
    OfflineError,
    RemoteError,
)
from .results import Embeddings, RerankHit, RerankResult

__version__ = "0.1.0"

__all__ = [
    "EmbedNbError",
    "Embeddings",
    "InputTooLongError",
    "InvalidInputError",
    "ModelClosedError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotARerankerError",
    "OfflineError",
    "RemoteError",
    "RerankHit",
    "RerankResult",
    "load_model",
]
