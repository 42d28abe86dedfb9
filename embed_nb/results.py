"""Result types that flow through embed_nb: vectors or scores plus where they came from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Embeddings", "RerankHit", "RerankResult"]


@dataclass(frozen=True, eq=False, repr=False)
class Embeddings:
    """Vectors for some texts, with their provenance.

    ``np.asarray(result)`` gives a float32 ``(n, d)`` array, or ``(d,)`` when a single string
    was embedded. With pooling ``none`` there is one ``(n_tokens_i, d)`` array per text in
    :attr:`token_vectors` instead, and ``np.asarray`` works only for a single text.
    """

    vectors: np.ndarray | None
    texts: list[str]
    token_counts: list[int]
    model: str
    fingerprint: str
    pooling: str
    normalize: int
    single: bool = False
    truncate: bool = False
    chunk: bool = False
    token_vectors: list[np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self.vectors is not None:
            array = self.vectors
        elif self.token_vectors is not None and self.single:
            array = self.token_vectors[0]
        else:
            raise TypeError(
                "pooling 'none' gives one array per text; use .token_vectors (a list of arrays)"
            )
        return array if dtype is None else array.astype(dtype, copy=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def shape(self) -> tuple[int, ...]:
        if self.vectors is not None:
            return tuple(self.vectors.shape)
        return (len(self.texts),)

    @property
    def dim(self) -> int:
        """Embedding size."""
        if self.vectors is not None:
            return int(self.vectors.shape[-1])
        assert self.token_vectors is not None
        return int(self.token_vectors[0].shape[-1])

    @property
    def total_tokens(self) -> int:
        return int(sum(self.token_counts))

    def __repr__(self) -> str:
        kind = "per-token" if self.vectors is None else f"shape={self.shape}"
        return (
            f"Embeddings({kind}, model={self.model!r}, pooling={self.pooling!r}, "
            f"normalize={self.normalize}, tokens={self.total_tokens})"
        )


@dataclass(frozen=True)
class RerankHit:
    """One document's place in a reranking."""

    index: int
    document: str
    score: float


@dataclass(frozen=True, eq=False)
class RerankResult:
    """Documents sorted by score for one query (the shape of llama-server's ``/v1/rerank``)."""

    query: str
    hits: list[RerankHit]
    model: str
    method: str  # "rank": a cross-encoder's RANK score; "cosine": bi-encoder fallback
    total_tokens: int

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[RerankHit]:
        return iter(self.hits)

    def __getitem__(self, i: int) -> RerankHit:
        return self.hits[i]

    @property
    def scores(self) -> np.ndarray:
        return np.array([hit.score for hit in self.hits], dtype=np.float32)

    @property
    def documents(self) -> list[str]:
        return [hit.document for hit in self.hits]

    def to_dict(self) -> dict[str, Any]:
        """llama-server's ``/v1/rerank`` response shape (``return_documents`` on)."""
        return {
            "model": self.model,
            "object": "list",
            "usage": {"prompt_tokens": self.total_tokens, "total_tokens": self.total_tokens},
            "results": [
                {"index": h.index, "document": {"text": h.document}, "relevance_score": h.score}
                for h in self.hits
            ],
        }


def rank_hits(
    query: str, documents: Sequence[str], scores: Sequence[float], top_n: int | None
) -> list[RerankHit]:
    """Sort documents by descending score (stable for ties) and keep the first ``top_n``."""
    order = sorted(range(len(documents)), key=lambda i: -scores[i])
    if top_n is not None:
        order = order[: max(top_n, 0)]
    return [RerankHit(i, documents[i], float(scores[i])) for i in order]
