"""Result types that flow through embed_nb: vectors or scores plus where they came from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .errors import InvalidInputError

if TYPE_CHECKING:
    from .request import EmbedRequest


class ModelLike(Protocol):
    """What a result records of the model that made it."""

    @property
    def name(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def pooling(self) -> str: ...


__all__ = [
    "Embeddings",
    "Projection",
    "RerankHit",
    "RerankResult",
    "RetrievedContext",
    "SearchHit",
    "SearchResult",
    "SimilarityMatrix",
]


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

    @property
    def request(self) -> EmbedRequest:
        """The :class:`~embed_nb.request.EmbedRequest` these vectors answer (as the model ran
        it: normalisation -1 for per-token vectors)."""
        from .request import EmbedRequest

        return EmbedRequest(normalize=self.normalize, truncate=self.truncate, chunk=self.chunk)

    @classmethod
    def from_parts(
        cls,
        *,
        model: ModelLike,
        request: EmbedRequest,
        texts: list[str],
        rows: np.ndarray | Sequence[np.ndarray],
        token_counts: list[int],
        single: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Embeddings:
        """The one way to build a result: finished vectors (normalised already) and provenance.

        ``rows`` is an ``(n, d)`` matrix or one vector per text; with pooling ``none`` one
        ``(n_tokens_i, d)`` array per text (copied, as float32). ``model`` gives the name,
        fingerprint and pooling.
        """
        common: dict[str, Any] = dict(
            texts=texts,
            token_counts=token_counts,
            model=model.name,
            fingerprint=model.fingerprint,
            pooling=model.pooling,
            single=single,
            truncate=request.truncate,
            chunk=request.chunk,
            extra={} if extra is None else extra,
        )
        if model.pooling == "none":
            token_vectors = [np.array(v, dtype=np.float32) for v in rows]
            return cls(vectors=None, normalize=-1, token_vectors=token_vectors, **common)
        matrix = rows if isinstance(rows, np.ndarray) else np.stack(rows)
        matrix = matrix.astype(np.float32, copy=False)
        return cls(vectors=matrix[0] if single else matrix, normalize=request.normalize, **common)

    def __repr__(self) -> str:
        kind = "per-token" if self.vectors is None else f"shape={self.shape}"
        return (
            f"Embeddings({kind}, model={self.model!r}, pooling={self.pooling!r}, "
            f"normalize={self.normalize}, tokens={self.total_tokens})"
        )

    def _repr_html_(self) -> str:
        from .display import embeddings_html

        return embeddings_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .display import embeddings_text

        p.text(embeddings_text(self))

    def to_pandas(self, *, wide: bool = False) -> Any:
        """A DataFrame with one row per text: ``text``, ``tokens`` and ``embedding`` (a float32
        array per row), or with ``wide=True`` one column per dimension (``e0``, ``e1``, ...).

        A pandas Series or DataFrame column given as input keeps its index.
        """
        import pandas as pd

        index = self.extra.get("index")
        frame = pd.DataFrame({"text": self.texts, "tokens": self.token_counts}, index=index)
        if self.vectors is None:
            assert self.token_vectors is not None
            frame["embedding"] = list(self.token_vectors)
            return frame
        matrix = self.vectors.reshape(len(self.texts), -1)
        if wide:
            dims = pd.DataFrame(
                matrix, columns=[f"e{i}" for i in range(matrix.shape[1])], index=frame.index
            )
            return pd.concat([frame, dims], axis=1)
        frame["embedding"] = list(matrix)
        return frame


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


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The ``k`` corpus documents most similar to a query (cosine similarity), best first."""

    query: str
    hits: list[SearchHit]
    model: str
    corpus_size: int
    method: str = "cosine"

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


@dataclass(frozen=True, eq=False, repr=False)
class SimilarityMatrix:
    """Cosine similarities between two sets of vectors; ``np.asarray`` gives the matrix."""

    matrix: np.ndarray
    row_labels: list[str]
    col_labels: list[str]
    model: str | None = None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.matrix if dtype is None else self.matrix.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.matrix.shape)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.matrix, index=self.row_labels, columns=self.col_labels)

    def __repr__(self) -> str:
        return f"SimilarityMatrix(shape={self.shape}, model={self.model!r})"

    def _repr_html_(self) -> str:
        from .display import similarity_html

        return similarity_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .display import similarity_text

        p.text(similarity_text(self))


@dataclass(frozen=True, eq=False, repr=False)
class Projection:
    """2-D coordinates of vectors (PCA, or UMAP when asked), with a label per point."""

    coords: np.ndarray
    labels: list[str]
    method: str
    model: str | None = None
    explained_variance: np.ndarray | None = None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.coords if dtype is None else self.coords.astype(dtype, copy=False)

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.coords.shape)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"x": self.coords[:, 0], "y": self.coords[:, 1], "label": self.labels})

    def __repr__(self) -> str:
        return f"Projection(method={self.method!r}, points={len(self)}, model={self.model!r})"

    def _repr_html_(self) -> str:
        from .display import projection_svg

        return projection_svg(self)


def rank_hits(
    query: str, documents: Sequence[str], scores: Sequence[float], top_n: int | None
) -> list[RerankHit]:
    """Sort documents by descending score (stable for ties) and keep the first ``top_n``."""
    order = sorted(range(len(documents)), key=lambda i: -scores[i])
    if top_n is not None:
        order = order[: max(top_n, 0)]
    return [RerankHit(i, documents[i], float(scores[i])) for i in order]
