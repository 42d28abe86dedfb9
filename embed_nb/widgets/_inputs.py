"""Turning what users pass (an Embeddings result, an array, texts) into vectors and texts.

Widgets know nothing about llama_cpp: texts are embedded through a callable, a model object
with ``.embed``, or :func:`embed_nb.api.embed` (the kernel's current model), imported late.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..results import Embeddings

__all__ = ["embed_texts", "fingerprint", "label_codes", "unit_rows", "vectors_and_texts"]

EmbedFn = Callable[[list[str]], Any]


def _is_text_list(data: object) -> bool:
    if isinstance(data, str):
        return False
    if isinstance(data, np.ndarray):
        return data.dtype.kind in "OUS" and data.ndim == 1 and len(data) > 0
    if hasattr(data, "tolist") and hasattr(data, "dtype"):  # a pandas Series
        data = data.tolist()
    return isinstance(data, Sequence) and len(data) > 0 and all(isinstance(t, str) for t in data)


def embed_texts(texts: list[str], model: Any = None) -> np.ndarray:
    """Embed texts with ``model``: a callable ``f(texts) -> (n, d)``, an object with
    ``.embed(texts)``, a registry name, or None (the kernel's current model)."""
    if model is not None and hasattr(model, "embed"):
        result = model.embed(texts)
    elif callable(model):
        result = model(texts)
    else:
        from .. import api  # late: loads the engine only when texts must be embedded

        result = api.embed(texts, model=model)
    array = np.asarray(result, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    return array


def vectors_and_texts(
    data: Any, texts: Sequence[str] | None = None, model: Any = None
) -> tuple[np.ndarray, list[str] | None]:
    """``(float32 (n, d) vectors, texts or None)`` from an Embeddings, an array or texts."""
    found: list[str] | None
    if isinstance(data, Embeddings):
        if data.vectors is None:
            raise InvalidInputError("per-token embeddings (pooling 'none') cannot be shown")
        vectors = np.asarray(data, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        found = list(texts) if texts is not None else list(data.texts)
    elif _is_text_list(data):
        found = [str(t) for t in data]
        vectors = embed_texts(found, model)
    else:
        vectors = np.asarray(data, dtype=np.float32)
        found = list(texts) if texts is not None else None
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise InvalidInputError(
            f"expected embeddings of shape (n, d) with n >= 1, not {vectors.shape}"
        )
    if not np.isfinite(vectors).all():
        raise InvalidInputError("the embeddings contain NaN or infinite values")
    if found is not None:
        if len(found) != len(vectors):
            raise InvalidInputError(
                f"{len(found)} texts for {len(vectors)} vectors: pass one text per vector"
            )
        found = [str(t) for t in found]
    return vectors, found


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length (zero rows stay zero), as float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


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
    values = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    if len(values) != n:
        raise InvalidInputError(f"{len(values)} labels for {n} points: pass one label per point")
    names: dict[str, int] = {}
    codes = np.empty(n, dtype=np.int64)
    for i, value in enumerate(values):
        codes[i] = names.setdefault(str(value), len(names))
    return codes, list(names)
