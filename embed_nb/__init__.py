"""embed_nb: text embeddings in the notebook, on a llama.cpp engine that lives in the kernel.

The Python API::

    import embed_nb
    vectors = embed_nb.embed(["The cat sits on the mat", "A feline rests on the rug"])
    embed_nb.search("a pet on a rug", corpus, k=3)

    # images beside texts, with a model loaded with its projector (mmproj=)
    embed_nb.embed([embed_nb.Image("cat.jpg", text="a photo"), "a cat on a mat"])

    model = embed_nb.load_model("all-minilm-l6-v2")   # a model of your own, outside the registry
    model.embed("hello")

In IPython or Jupyter, ``%load_ext embed_nb`` adds the magics (``%embed``, ``%rerank``, ...).

Names are imported on first use, so ``import embed_nb`` (and ``%load_ext``) stays fast: numpy
and llama.cpp load only when something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    EmbedNbError,
    FileAccessError,
    InputTooLongError,
    InvalidInputError,
    ModelClosedError,
    ModelLoadError,
    ModelNotFoundError,
    NotARerankerError,
    OfflineError,
    RemoteError,
)

if TYPE_CHECKING:
    from .api import embed, project, rerank, retrieve, search, similarity
    from .cache import EmbeddingCache
    from .dedup import communities, paraphrases
    from .loading import load_model
    from .media import Audio, Image
    from .model_doctor import Diagnosis, doctor
    from .quantize import QuantizedEmbeddings
    from .results import (
        Embeddings,
        Projection,
        RerankHit,
        RerankResult,
        RetrievedContext,
        SearchHit,
        SearchResult,
        SimilarityMatrix,
    )
    from .retrieval import RerankedSearchResult

__version__ = "0.1.0"

# name -> module that defines it, imported when the name is first used.
_LAZY = {
    "load_model": ".loading",
    "embed": ".api",
    "rerank": ".api",
    "similarity": ".api",
    "search": ".api",
    "retrieve": ".api",
    "project": ".api",
    "paraphrases": ".dedup",
    "communities": ".dedup",
    "doctor": ".model_doctor",
    "Image": ".media",
    "Audio": ".media",
    "Diagnosis": ".model_doctor",
    "EmbeddingCache": ".cache",
    "QuantizedEmbeddings": ".quantize",
    "RerankedSearchResult": ".retrieval",
    "Embeddings": ".results",
    "Projection": ".results",
    "RerankHit": ".results",
    "RerankResult": ".results",
    "RetrievedContext": ".results",
    "SearchHit": ".results",
    "SearchResult": ".results",
    "SimilarityMatrix": ".results",
}

__all__ = [
    "Audio",
    "Diagnosis",
    "EmbedNbError",
    "EmbeddingCache",
    "Embeddings",
    "FileAccessError",
    "Image",
    "InputTooLongError",
    "InvalidInputError",
    "ModelClosedError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotARerankerError",
    "OfflineError",
    "Projection",
    "QuantizedEmbeddings",
    "RemoteError",
    "RerankHit",
    "RerankResult",
    "RerankedSearchResult",
    "RetrievedContext",
    "SearchHit",
    "SearchResult",
    "SimilarityMatrix",
    "communities",
    "doctor",
    "embed",
    "load_ipython_extension",
    "load_model",
    "paraphrases",
    "project",
    "rerank",
    "retrieve",
    "search",
    "similarity",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embed_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext embed_nb``: register the magics (heavy modules load on first use)."""
    from .magics import EmbedMagics

    ipython.register_magics(EmbedMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext embed_nb``: nothing to undo beyond IPython's own bookkeeping."""
