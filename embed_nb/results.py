"""Result types that flow through embed_nb: vectors or scores plus where they came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .rankings import (
    RerankHit,
    RerankResult,
    RetrievedContext,
    SearchHit,
    SearchResult,
    rank_hits,
)

if TYPE_CHECKING:
    from .quantize import QuantizedEmbeddings
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
    "rank_hits",
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
    #: The text put before each text (``prompt=``), and the Matryoshka size (``dim=``).
    prompt: str = ""
    truncate_dim: int | None = None
    #: The decoded images and audio among the inputs (:class:`embed_nb.media.Media`), one per
    #: row, None for a text row; None when every input was a text. Widgets draw thumbnails
    #: from these.
    media: tuple[Any, ...] | None = None

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

        return EmbedRequest(
            normalize=self.normalize,
            truncate=self.truncate,
            chunk=self.chunk,
            prompt=self.prompt,
            dim=self.truncate_dim,
        )

    @classmethod
    def from_parts(
        cls,
        *,
        model: ModelLike,
        request: EmbedRequest,
        texts: Sequence[Any],
        rows: np.ndarray | Sequence[np.ndarray],
        token_counts: list[int],
        single: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Embeddings:
        """The one way to build a result: finished vectors (normalised already) and provenance.

        ``texts`` are the inputs: texts, and decoded images and audio
        (:class:`~embed_nb.media.Media`), which go into :attr:`media` and show by their label.
        ``rows`` is an ``(n, d)`` matrix or one vector per text; with pooling ``none`` one
        ``(n_tokens_i, d)`` array per text (copied, as float32). ``model`` gives the name,
        fingerprint and pooling.
        """
        media = tuple(None if isinstance(item, str) else item for item in texts)
        common: dict[str, Any] = dict(
            texts=[item if isinstance(item, str) else item.label for item in texts],
            media=media if any(media) else None,
            token_counts=token_counts,
            model=model.name,
            fingerprint=model.fingerprint,
            pooling=model.pooling,
            single=single,
            truncate=request.truncate,
            chunk=request.chunk,
            extra={} if extra is None else extra,
            prompt=request.prompt,
            truncate_dim=request.dim,
        )
        if model.pooling == "none":
            token_vectors = [np.array(v, dtype=np.float32) for v in rows]
            return cls(vectors=None, normalize=-1, token_vectors=token_vectors, **common)
        matrix = rows if isinstance(rows, np.ndarray) else np.stack(rows)
        matrix = matrix.astype(np.float32, copy=False)
        return cls(vectors=matrix[0] if single else matrix, normalize=request.normalize, **common)

    def quantize(
        self, precision: str, *, calibration: object = None, ranges: object = None
    ) -> QuantizedEmbeddings:
        """These vectors as ``"int8"``, ``"uint8"``, ``"binary"`` or ``"ubinary"``, with
        sentence-transformers' ``quantize_embeddings`` semantics (see :mod:`embed_nb.quantize`);
        int8/uint8 buckets come from ``calibration`` vectors (or ``ranges``) when given."""
        from .quantize import quantize

        return quantize(self, precision, calibration=calibration, ranges=ranges)

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
