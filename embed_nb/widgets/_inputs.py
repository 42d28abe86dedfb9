"""Turning what users pass (an Embeddings result, an array, texts) into vectors and texts.

Widgets know nothing about llama_cpp: texts are embedded through a callable, an object with
``.embed``, or :func:`embed_nb.api.embed` (a loaded model, a registry name, or the kernel's
current model; through the kernel's cache and settings), imported late.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..arguments import bounded_int  # re-exported for the widgets
from ..errors import InvalidInputError
from ..results import Embeddings
from ..vectors import unit_rows  # re-exported: the one copy lives in vectors.py

__all__ = [
    "bounded_int",
    "embed_texts",
    "fingerprint",
    "is_model",
    "label_codes",
    "unit_rows",
    "vectors_and_texts",
]

EmbedFn = Callable[[list[str]], Any]


def _is_text_list(data: object) -> bool:
    if isinstance(data, str):
        return False
    if isinstance(data, np.ndarray):
        if data.ndim != 1 or len(data) == 0 or data.dtype.kind not in "OUS":
            return False
        return data.dtype.kind != "O" or all(isinstance(t, str) for t in data)
    if hasattr(data, "tolist") and hasattr(data, "dtype"):  # a pandas Series
        data = data.tolist()
    return isinstance(data, Sequence) and len(data) > 0 and all(isinstance(t, str) for t in data)


def embed_texts(texts: list[str], model: Any = None) -> np.ndarray:
    """Embed texts with ``model``: a loaded model (or a registry name, or None for the
    kernel's current model), embedded through the kernel's cache and settings like any API
    call; or a callable ``f(texts) -> (n, d)``, or another object with ``.embed(texts)``.

    A reranker or a per-token model is refused (its outputs are not vectors to compare).
    """
    from .. import api  # late: loads the engine only when texts must be embedded

    if model is None or isinstance(model, str) or is_model(model):
        # One way to choose a model (resolve_model), and the settings' cache and normalise.
        result = api.embed(texts, model=api.vector_model(model, "this view"))
    elif hasattr(model, "embed"):
        result = model.embed(texts)
    elif callable(model):
        result = model(texts)
    else:
        result = api.embed(texts, model=api.vector_model(model, "this view"))
    if isinstance(result, Embeddings):
        return api.checked_matrix(result, "the embedded texts")
    array = _numeric(result, "the embedding function's result")
    if array.ndim == 1:
        array = array[None, :]
    return array


def is_model(model: object) -> bool:
    """A loaded model (the :class:`~embed_nb.engine.protocol.EmbeddingModel` shape), as opposed
    to a user's own object that only has ``.embed``."""
    return (
        callable(getattr(model, "embed", None))
        and hasattr(model, "pooling")
        and hasattr(model, "fingerprint")
    )


def _numeric(data: object, what: str) -> np.ndarray:
    """``data`` as a numpy array, or a clear error for ragged or odd input."""
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as error:
        raise InvalidInputError(
            f"{what} is not an (n, d) array of numbers ({error}); pass float vectors"
        ) from None


def _text_list(texts: object) -> list[str]:
    """Texts given beside vectors: a list (or array, or Series) with one str per vector."""
    if isinstance(texts, str | bytes) or not isinstance(texts, Iterable | np.ndarray):
        raise InvalidInputError(
            f"texts must be a list with one str per vector, not {type(texts).__name__}"
        )
    tolist = getattr(texts, "tolist", None)
    values = tolist() if callable(tolist) else list(texts)
    return [str(t) for t in values]


def vectors_and_texts(
    data: Any, texts: Sequence[str] | None = None, model: Any = None
) -> tuple[np.ndarray, list[str] | None]:
    """``(float32 (n, d) vectors, texts or None)`` from an Embeddings, an array or texts.

    The vectors are checked as every comparison checks them (:func:`embed_nb.api.checked_matrix`):
    numbers only, at least 2 dimensions, no NaN or infinity.
    """
    from ..api import checked_matrix

    found: list[str] | None
    if isinstance(data, Embeddings):
        vectors = checked_matrix(data, "the embeddings")
        found = _text_list(texts) if texts is not None else list(data.texts)
    elif _is_text_list(data):
        found = [str(t) for t in data]
        vectors = embed_texts(found, model)
    else:
        array = _numeric(data, "data")
        if array.ndim != 2 or array.shape[0] == 0:
            raise InvalidInputError(
                f"expected embeddings of shape (n, d) with n >= 1, not {array.shape}"
            )
        vectors = checked_matrix(array, "the embeddings")
        found = _text_list(texts) if texts is not None else None
    vectors = checked_matrix(vectors, "the embeddings")
    if found is not None and len(found) != len(vectors):
        raise InvalidInputError(
            f"{len(found)} texts for {len(vectors)} vectors: pass one text per vector"
        )
    return vectors, found


def fingerprint(vectors: np.ndarray, *extra: object) -> str:
    """A content hash of the vectors (and any options) for caches keyed by data."""
    digest = hashlib.blake2b(digest_size=16)
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    digest.update(str(array.shape).encode())
    digest.update(array.tobytes())
    for item in extra:
        digest.update(repr(item).encode())
    return digest.hexdigest()


def label_codes(labels: Sequence[Any] | None, n: int) -> tuple[np.ndarray | None, list[str]]:
    """Integer codes (in order of first appearance) and their names for per-point labels."""
    if labels is None:
        return None, []
    from ..api import checked_labels

    values = checked_labels(labels, n)
    names: dict[str, int] = {}
    codes = np.empty(n, dtype=np.int64)
    for i, value in enumerate(values):
        codes[i] = names.setdefault(str(value), len(names))
    return codes, list(names)
