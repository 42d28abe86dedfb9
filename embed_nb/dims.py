"""Matryoshka dimensions: keep the first ``dim`` components of each vector, then normalise.

sentence-transformers' ``truncate_dim`` cuts each embedding to its first ``dim`` values and,
with ``normalize_embeddings``, normalises the result. Here the normalisation is the
request's own (llama.cpp's ``embd_normalize``: L2 unless asked otherwise), applied to the
cut vector. Every mode is scale-invariant, so cutting the engine's normalised output and
normalising again equals normalising the cut raw vector.

A model trained as Matryoshka (nomic-embed v1.5, EmbeddingGemma, Qwen3-Embedding) keeps most
of its quality in a prefix; for any other model a shorter vector loses more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .engine.normalize import normalize as normalize_rows
from .errors import InvalidInputError

__all__ = ["check_dim_for", "checked_dim", "truncate_dim"]


def checked_dim(dim: object) -> int | None:
    """``dim=``: None (the full vector) or a positive int (the model's size is checked later)."""
    if dim is None:
        return None
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise InvalidInputError(
            f"dim must be a positive integer (the leading components to keep) or None, not {dim!r}"
        )
    return int(dim)


def check_dim_for(dim: int | None, *, name: str, pooling: str, n_embd: int) -> None:
    """Refuse a ``dim`` the model cannot give: per-token vectors, reranker scores, or a size
    outside 1..d."""
    if dim is None:
        return
    if pooling == "rank":
        raise InvalidInputError(
            f"dim={dim}: {name} is a reranker, whose outputs are scores, not vectors to cut; "
            "leave out dim or use an embedding model"
        )
    if pooling == "none":
        raise InvalidInputError(
            f"dim={dim} cuts pooled vectors, but {name} gives per-token vectors (pooling "
            "'none'); leave out dim or load it with pooling mean, cls or last"
        )
    if not 1 <= dim <= n_embd:
        raise InvalidInputError(
            f"dim={dim} is out of range: {name} gives {n_embd}-dimensional vectors; use 1..{n_embd}"
        )


def truncate_dim(
    vectors: np.ndarray | Sequence[np.ndarray], dim: int, normalize: int = 2
) -> np.ndarray:
    """The first ``dim`` components of each row, normalised with ``normalize`` (-1: none).

    Args:
        vectors: ``(n, d)`` or ``(d,)`` vectors.
        dim: components to keep, 1..d.
        normalize: llama.cpp's ``embd_normalize`` mode for the cut vectors.
    """
    rows = np.asarray(vectors, dtype=np.float32)
    if not 1 <= dim <= rows.shape[-1]:
        raise InvalidInputError(f"dim={dim} is out of range; use 1..{rows.shape[-1]}")
    return normalize_rows(np.ascontiguousarray(rows[..., :dim]), normalize)
