"""Ranked results: reranked documents, search hits and the RAG context made from them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = [
    "RerankHit",
    "RerankResult",
    "RetrievedContext",
    "SearchHit",
    "SearchResult",
    "rank_hits",
]


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

    def to_pandas(self) -> Any:
        """A DataFrame: ``rank``, ``index``, ``score``, ``document``, best first."""
        import pandas as pd

        return pd.DataFrame(
            {
                "rank": range(1, len(self.hits) + 1),
                "index": [h.index for h in self.hits],
                "score": [h.score for h in self.hits],
                "document": [h.document for h in self.hits],
            }
        )

    def __repr__(self) -> str:
        return (
            f"RerankResult(query={self.query!r}, model={self.model!r}, method={self.method!r}, "
            f"hits={len(self.hits)})"
        )

    def _repr_html_(self) -> str:
        from .display import rerank_html

        return rerank_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .display import rerank_text

        p.text(rerank_text(self))


@dataclass(frozen=True)
class SearchHit:
    """One corpus document found by :func:`embed_nb.search`."""

    rank: int
    index: int
    document: str
    score: float
    label: Any = None  # the corpus' pandas index label, when it had one
    #: The hit's image or clip (:class:`~embed_nb.media.Media`) when it is one; ``document``
    #: is then its label.
    media: Any = None


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The ``k`` corpus documents most similar to a query (cosine similarity), best first."""

    query: str
    hits: list[SearchHit]
    model: str
    corpus_size: int
    method: str = "cosine"
    #: The query's image or clip when it was one (``query`` is then its label).
    query_media: Any = None

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    def __getitem__(self, i: int) -> SearchHit:
        return self.hits[i]

    @property
    def scores(self) -> np.ndarray:
        return np.array([hit.score for hit in self.hits], dtype=np.float32)

    @property
    def documents(self) -> list[str]:
        return [hit.document for hit in self.hits]

    @property
    def indices(self) -> list[int]:
        return [hit.index for hit in self.hits]

    def context(self, template: str = "[{rank}] {document}", sep: str = "\n\n") -> RetrievedContext:
        """The hits as a prompt context for retrieval-augmented generation.

        ``template`` is formatted with ``rank``, ``index``, ``score`` and ``document``.
        """
        if not isinstance(template, str) or not isinstance(sep, str):
            raise InvalidInputError("template and sep must be str")
        try:
            parts = [
                template.format(rank=h.rank, index=h.index, score=h.score, document=h.document)
                for h in self.hits
            ]
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as error:
            raise InvalidInputError(
                f"template {template!r} cannot be formatted ({type(error).__name__}: {error}); "
                "use the fields {rank}, {index}, {score} and {document}"
            ) from None
        return RetrievedContext(sep.join(parts))

    def to_pandas(self) -> Any:
        """A DataFrame: ``rank``, ``index`` (the corpus label if it had a pandas index),
        ``score``, ``document``."""
        import pandas as pd

        labels = [h.label if h.label is not None else h.index for h in self.hits]
        return pd.DataFrame(
            {
                "rank": [h.rank for h in self.hits],
                "index": labels,
                "score": [h.score for h in self.hits],
                "document": [h.document for h in self.hits],
            }
        )

    def __repr__(self) -> str:
        return (
            f"SearchResult(query={self.query!r}, model={self.model!r}, hits={len(self.hits)}, "
            f"corpus_size={self.corpus_size})"
        )

    def _repr_html_(self) -> str:
        from .display import search_html

        return search_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .display import search_text

        p.text(search_text(self))


class RetrievedContext(str):
    """A RAG prompt context: a plain ``str`` that shows as its text, not as a quoted repr."""

    __slots__ = ()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        import html

        return f"<pre style='white-space:pre-wrap'>{html.escape(str(self))}</pre>"


def rank_hits(
    query: str, documents: Sequence[str], scores: Sequence[float], top_n: int | None
) -> list[RerankHit]:
    """Sort documents by descending score (stable for ties) and keep the first ``top_n``."""
    order = sorted(range(len(documents)), key=lambda i: -scores[i])
    if top_n is not None:
        order = order[: max(top_n, 0)]
    return [RerankHit(i, documents[i], float(scores[i])) for i in order]
