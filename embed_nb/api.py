"""The notebook API: embed, rerank, similarity, search, retrieve and project.

Every magic is a thin front end over one of these functions. They work with any model that has
the :class:`EmbeddingModel` shape (the in-kernel :class:`~embed_nb.engine.LocalModel` or a remote
one), take the kernel's current model when ``model`` is not given (see :mod:`embed_nb.registry`),
and accept a str, a list of str, a pandas Series or a DataFrame column as texts.

Embeddings go through the content-addressed cache (:mod:`embed_nb.cache`): re-running a cell
finds its vectors without touching the model. Long jobs run in parts of
:data:`JOB_PART` texts, each cached as soon as it is done, so an interrupt keeps the finished parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import registry
from .cache import EmbeddingCache, cache_key, default_cache
from .engine.inputs import check_top_n, checked_texts
from .errors import InputTooLongError, InvalidInputError, NotARerankerError
from .progress import Progress, ProgressArg
from .results import (
    Embeddings,
    Projection,
    RerankResult,
    RetrievedContext,
    SearchHit,
    SearchResult,
    SimilarityMatrix,
    rank_hits,
)

if TYPE_CHECKING:
    from .engine.info import ModelInfo

__all__ = [
    "JOB_PART",
    "EmbeddingModel",
    "as_texts",
    "embed",
    "project",
    "rerank",
    "retrieve",
    "search",
    "similarity",
]

#: Texts per engine call in a long job; each part is cached as soon as it finishes.
JOB_PART = 256

CacheArg = bool | EmbeddingCache | None


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the API needs of a model: :class:`~embed_nb.engine.LocalModel` and the remote
    backend both have it."""

    name: str
    fingerprint: str
    pooling: str
    n_embd: int
    max_tokens: int

    @property
    def closed(self) -> bool: ...

    @property
    def is_reranker(self) -> bool: ...

    @property
    def info(self) -> ModelInfo: ...

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: int = 2,
        truncate: bool = False,
        chunk: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> Embeddings: ...

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncate: bool = False,
    ) -> RerankResult: ...

    def tokenize(self, text: str) -> list[int]: ...

    def close(self) -> None: ...


ModelArg = str | EmbeddingModel | None


# --- inputs --------------------------------------------------------------------------------


def as_texts(
    texts: object, *, column: str | None = None, what: str = "texts"
) -> tuple[list[str], bool, Any]:
    """Turn user input into ``(list of str, single, pandas index or None)``.

    Accepts a str (``single``), a list or tuple of str, a numpy array of str, a pandas Series,
    or a DataFrame with ``column`` named (or with a single column), and an :class:`Embeddings`
    (its texts).
    """
    index = None
    if isinstance(texts, str):
        return [texts], True, None
    if isinstance(texts, Embeddings):
        return list(texts.texts), False, texts.extra.get("index")
    if _is_dataframe(texts):
        columns = list(texts.columns)  # type: ignore[attr-defined]
        if column is None:
            if len(columns) != 1:
                raise InvalidInputError(
                    f"{what} is a DataFrame with columns {columns}; say which holds the text, "
                    "e.g. df['text'] (or --column text in a magic)"
                )
            column = columns[0]
        if column not in columns:
            raise InvalidInputError(
                f"the DataFrame has no column {column!r}; its columns are {columns}"
            )
        texts = texts[column]  # type: ignore[index]
    elif column is not None:
        raise InvalidInputError(f"column={column!r} needs a DataFrame, not {type(texts).__name__}")
    if _is_series(texts):
        index = texts.index  # type: ignore[attr-defined]
        texts = texts.tolist()  # type: ignore[attr-defined]
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise InvalidInputError(f"{what} must be 1-D, not an array of shape {texts.shape}")
        texts = texts.tolist()
    if isinstance(texts, bytes | bytearray | dict) or not isinstance(texts, Sequence):
        hint = ""
        if isinstance(texts, bytes | bytearray):
            hint = "; decode bytes first, e.g. data.decode('utf-8')"
        raise InvalidInputError(
            f"{what} must be a str, a list of str, a pandas Series or a DataFrame column, "
            f"not {type(texts).__name__}{hint}"
        )
    return checked_texts(texts, what), False, index


def _is_series(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "Series"


def _is_dataframe(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _model(model: ModelArg) -> EmbeddingModel:
    return registry.REGISTRY.get(model)


def _cache(cache: CacheArg) -> EmbeddingCache | None:
    if cache is None or cache is True:
        return default_cache()
    if cache is False:
        return None
    if isinstance(cache, EmbeddingCache):
        return cache
    raise InvalidInputError(
        f"cache must be True, False or an EmbeddingCache, not {type(cache).__name__}"
    )


# --- embed ---------------------------------------------------------------------------------


def embed(
    texts: object,
    *,
    model: ModelArg = None,
    normalize: int = 2,
    truncate: bool = False,
    chunk: bool = False,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
    tokens: bool = False,
) -> Embeddings:
    """Embed texts with a model, through the cache.

    Args:
        texts: a str (giving a ``(d,)`` vector), a list of str, a pandas Series, or a
            DataFrame with ``column`` (each giving ``(n, d)``).
        model: a loaded model, the name of one in the registry, or None for the current model
            (the default model is loaded if none is).
        normalize: llama.cpp's ``embd_normalize``: -1 none, 0 max-abs, 1 L1, 2 L2, p > 2.
        truncate: cut texts longer than the model's context instead of failing.
        chunk: embed long texts in overlapping windows and average them.
        cache: True (the user cache), False (none) or an :class:`EmbeddingCache`.
        progress: None (a bar for jobs of at least
            :data:`~embed_nb.progress.DEFAULT_PROGRESS_THRESHOLD` texts), True, False, an int
            threshold, or a ``callable(done, total)``.
        column: the text column when ``texts`` is a DataFrame.
        tokens: per-token vectors (pooling ``none``): the current model is loaded a second time
            with pooling none if it pools otherwise.

    Raises:
        KeyboardInterrupt: stops between decodes; parts already done stay in the cache (the
            exception carries a note saying how many) and the model stays usable.
    """
    items, single, index = as_texts(texts, column=column)
    chosen = _model(model)
    if tokens:
        chosen = registry.REGISTRY.with_pooling(chosen, "none")
    return _embed_items(
        chosen, items, single, index, normalize, truncate, chunk, _cache(cache), progress
    )


def _embed_items(
    model: EmbeddingModel,
    items: list[str],
    single: bool,
    index: Any,
    normalize: int,
    truncate: bool,
    chunk: bool,
    store: EmbeddingCache | None,
    progress: ProgressArg,
) -> Embeddings:
    from .engine.normalize import check_normalize

    mode = -1 if model.pooling == "none" else check_normalize(normalize)
    if truncate and chunk:
        raise InvalidInputError("choose one of truncate and chunk, not both")
    limit = getattr(model, "max_tokens", None)
    keys = [
        cache_key(
            model.fingerprint,
            model.pooling,
            mode,
            text,
            truncate=truncate,
            chunk=chunk,
            max_tokens=limit,
        )
        for text in items
    ]
    found = store.get_many(keys) if store is not None else {}
    hits = sum(1 for key in keys if key in found)
    # One engine call per distinct missing text, longest parts together (better packing).
    first_position: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key not in found:
            first_position.setdefault(key, position)
    todo = sorted(first_position.items(), key=lambda kv: len(items[kv[1]]))
    computed: dict[str, tuple[np.ndarray, int]] = {}
    part = JOB_PART if store is not None else max(len(todo), 1)
    with Progress(len(todo), progress) as bar:
        for start in range(0, len(todo), part):
            batch = todo[start : start + part]
            texts = [items[position] for _, position in batch]
            try:
                result = model.embed(
                    texts,
                    normalize=mode,
                    truncate=truncate,
                    chunk=chunk,
                    progress=bar.callback(start, len(batch)),
                )
            except KeyboardInterrupt as interrupt:
                interrupt.add_note(
                    f"embed_nb: interrupted after {start:,} of {len(todo):,} texts to embed; "
                    "those are cached, so running it again continues from there"
                    if store is not None and start
                    else f"embed_nb: interrupted before any of {len(todo):,} texts was done"
                )
                raise
            except InvalidInputError as error:
                raise _renumbered(error, [position for _, position in batch]) from None
            new = []
            for k, (key, _) in enumerate(batch):
                if result.vectors is not None:
                    vector = result.vectors[k]
                else:
                    assert result.token_vectors is not None
                    vector = result.token_vectors[k]
                computed[key] = (vector, result.token_counts[k])
                new.append((key, vector, result.token_counts[k]))
            if store is not None:
                store.put_many(new)
            bar.update(start + len(batch))

    def lookup(key: str) -> tuple[np.ndarray, int]:
        entry = found.get(key)
        return (entry.vector, entry.n_tokens) if entry is not None else computed[key]

    pairs = [lookup(key) for key in keys]
    extra: dict[str, Any] = {"cache_hits": hits} if store is not None else {}
    if index is not None:
        extra["index"] = index
    common: dict[str, Any] = dict(
        texts=items,
        token_counts=[n for _, n in pairs],
        model=model.name,
        fingerprint=model.fingerprint,
        pooling=model.pooling,
        normalize=mode,
        single=single,
        truncate=truncate,
        chunk=chunk,
        extra=extra,
    )
    if model.pooling == "none":
        token_vectors = [np.array(v, dtype=np.float32) for v, _ in pairs]
        return Embeddings(vectors=None, token_vectors=token_vectors, **common)
    stacked = np.stack([v for v, _ in pairs]).astype(np.float32, copy=False)
    return Embeddings(vectors=stacked[0] if single else stacked, **common)


_TEXT_NUMBER = re.compile(r"\b(text|input) (\d+)\b")


def _renumbered(error: InvalidInputError, positions: list[int]) -> InvalidInputError:
    """The engine numbers texts within one part of the job; say the user's numbers instead."""
    if isinstance(error, InputTooLongError):
        return InputTooLongError(positions[error.index], error.n_tokens, error.limit)
    if type(error) is not InvalidInputError:
        return error

    def fix(match: re.Match[str]) -> str:
        number = int(match.group(2))
        return f"{match.group(1)} {positions[number] if number < len(positions) else number}"

    return InvalidInputError(_TEXT_NUMBER.sub(fix, str(error)))


# --- rerank --------------------------------------------------------------------------------


def rerank(
    query: str,
    documents: object,
    *,
    top_n: int | None = None,
    model: ModelArg = None,
    truncate: bool = False,
    cache: CacheArg = True,
    column: str | None = None,
) -> RerankResult:
    """Order documents by relevance to a query, best first.

    With a reranker (RANK pooling) the scores are its raw relevance scores, as llama-server's
    ``/v1/rerank`` gives them (``method="rank"``). With an embedding model the documents are
    ordered by cosine similarity to the query instead (``method="cosine"``), and the result
    says so.
    """
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    docs, _, _ = as_texts(documents, column=column, what="documents")
    check_top_n(top_n)
    chosen = _model(model)
    if chosen.is_reranker:
        return chosen.rerank(query, docs, top_n, truncate=truncate)
    if chosen.pooling == "none":
        raise NotARerankerError(
            f"{chosen.name} pools 'none' (one vector per token), so it can neither rerank nor "
            "rank by cosine; load a reranker, or an embedding model with pooling"
        )
    result = _embed_items(
        chosen, [query, *docs], False, None, 2, truncate, False, _cache(cache), None
    )
    vectors = np.asarray(result)
    scores = (vectors[1:] @ vectors[0]).tolist()
    return RerankResult(
        query=query,
        hits=rank_hits(query, docs, scores, top_n),
        model=chosen.name,
        method="cosine",
        total_tokens=result.total_tokens,
    )


# --- similarity ----------------------------------------------------------------------------


def _vectors(
    data: object, model: ModelArg, what: str, cache: CacheArg = True
) -> tuple[np.ndarray, list[str], str | None, Embeddings | None]:
    """``(2-D float array, labels, model name, Embeddings or None)`` for embeddings, an array,
    or texts (embedded with the model)."""
    if isinstance(data, Embeddings):
        if data.vectors is None:
            raise InvalidInputError(
                f"{what} holds per-token vectors (pooling none); use pooled embeddings"
            )
        matrix = np.atleast_2d(np.asarray(data, dtype=np.float32))
        return matrix, list(data.texts), data.model, data
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiu":
        if data.ndim not in (1, 2):
            raise InvalidInputError(f"{what} must be a 1-D or 2-D array, not {data.ndim}-D")
        matrix = np.atleast_2d(data).astype(np.float32, copy=False)
        return matrix, [str(i) for i in range(matrix.shape[0])], None, None
    embedded = embed(data, model=model, cache=cache)
    return _vectors(embedded, model, what)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def similarity(
    a: object, b: object = None, *, model: ModelArg = None, cache: CacheArg = True
) -> SimilarityMatrix:
    """Cosine similarities: ``a`` against itself, or ``a`` (rows) against ``b`` (columns).

    Each of ``a`` and ``b`` is an :class:`Embeddings`, a numpy array of vectors, or texts
    (a str, a list of str or a pandas Series), which are embedded with ``model``.
    ``np.asarray(result)`` gives the matrix.
    """
    left, left_labels, left_model, _ = _vectors(a, model, "a", cache)
    if b is None:
        right, right_labels, right_model = left, left_labels, left_model
    else:
        right, right_labels, right_model, _ = _vectors(b, model, "b", cache)
    if left.shape[1] != right.shape[1]:
        raise InvalidInputError(
            f"a has {left.shape[1]}-dimensional vectors and b {right.shape[1]}-dimensional ones; "
            "embed both with the same model"
        )
    unit_left = _unit(left.astype(np.float64))
    unit_right = unit_left if b is None else _unit(right.astype(np.float64))
    matrix = (unit_left @ unit_right.T).astype(np.float32)
    name = left_model if left_model == right_model or right_model is None else None
    return SimilarityMatrix(matrix, left_labels, right_labels, name or left_model)


# --- search and retrieve -------------------------------------------------------------------


def search(
    query: str,
    corpus: object,
    k: int = 5,
    *,
    model: ModelArg = None,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
) -> SearchResult:
    """The ``k`` documents of ``corpus`` most similar to ``query`` (cosine), best first.

    ``corpus`` is texts (a list of str, a pandas Series, a DataFrame with ``column``), embedded
    once and then found in the cache on later searches, or an :class:`Embeddings` made earlier
    (the query is then embedded with the model that made it, which must be loaded).
    """
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, not {k!r}")
    chosen = _model(model) if model is not None or not isinstance(corpus, Embeddings) else None
    if isinstance(corpus, Embeddings):
        documents = corpus
        chosen = chosen or _model_for(corpus)
        if chosen.fingerprint != corpus.fingerprint:
            raise InvalidInputError(
                f"the corpus was embedded with {corpus.model!r}, but the query would be embedded "
                f"with {chosen.name!r}; pass model= the one that embedded the corpus"
            )
    else:
        assert chosen is not None
        items, _, index = as_texts(corpus, column=column, what="corpus")
        documents = _embed_items(
            chosen, items, False, index, 2, False, False, _cache(cache), progress
        )
    if documents.vectors is None:
        raise InvalidInputError(
            f"{chosen.name} pools 'none' (per-token vectors); search needs pooled embeddings"
        )
    query_vector = np.asarray(
        _embed_items(chosen, [query], True, None, 2, False, False, _cache(cache), False)
    ).astype(np.float64)
    matrix = np.atleast_2d(np.asarray(documents)).astype(np.float64, copy=False)
    norms = np.linalg.norm(matrix, axis=1)
    scores = (
        (matrix @ query_vector)
        / np.where(norms == 0, 1, norms)
        / max(float(np.linalg.norm(query_vector)), 1e-12)
    )
    order = np.argsort(-scores, kind="stable")[:k]
    labels = documents.extra.get("index")
    hits = [
        SearchHit(
            rank=rank,
            index=int(i),
            document=documents.texts[int(i)],
            score=float(scores[i]),
            label=None if labels is None else labels[int(i)],
        )
        for rank, i in enumerate(order, 1)
    ]
    return SearchResult(query=query, hits=hits, model=chosen.name, corpus_size=len(documents))


def _model_for(embeddings: Embeddings) -> EmbeddingModel:
    """The loaded model that made ``embeddings`` (same file and pooling), else the current one."""
    for resident in registry.REGISTRY.list():
        model = resident.model
        same = model.fingerprint == embeddings.fingerprint and model.pooling == embeddings.pooling
        if same and not model.closed:
            return model
    return registry.REGISTRY.get(None)


def retrieve(
    query: str,
    corpus: object,
    k: int = 5,
    *,
    model: ModelArg = None,
    template: str = "[{rank}] {document}",
    sep: str = "\n\n",
    cache: CacheArg = True,
    column: str | None = None,
) -> RetrievedContext:
    """A RAG prompt context: the ``k`` best documents for ``query``, formatted and joined.

    ``template`` is formatted per hit with ``rank``, ``index``, ``score`` and ``document``.
    The result is a ``str``.
    """
    result = search(query, corpus, k, model=model, cache=cache, column=column)
    return result.context(template, sep)


# --- projection ----------------------------------------------------------------------------


def project(
    embeddings: object,
    method: str = "pca",
    *,
    labels: Sequence[str] | None = None,
    model: ModelArg = None,
    n_components: int = 2,
    random_state: int = 0,
    cache: CacheArg = True,
) -> Projection:
    """2-D coordinates of vectors: ``"pca"`` (numpy SVD, instant) or ``"umap"`` (needs
    ``umap-learn``). ``embeddings`` is an :class:`Embeddings`, an array, or texts to embed.

    ``np.asarray(result)`` gives the ``(n, 2)`` coordinates.
    """
    matrix, default_labels, model_name, _ = _vectors(embeddings, model, "embeddings", cache)
    if labels is not None:
        listed = labels.tolist() if _is_series(labels) else labels  # type: ignore[attr-defined]
        label_list = [str(x) for x in listed]
        if len(label_list) != matrix.shape[0]:
            raise InvalidInputError(
                f"{len(label_list)} labels for {matrix.shape[0]} points; give one label per point"
            )
    else:
        label_list = default_labels
    if matrix.shape[0] < 2:
        raise InvalidInputError("a map needs at least 2 points")
    method = method.lower()
    explained = None
    if method == "pca":
        coords, explained = _pca(matrix.astype(np.float64), n_components)
    elif method == "umap":
        try:
            import umap
        except ImportError:
            raise InvalidInputError(
                "method='umap' needs umap-learn (pip install umap-learn); method='pca' works now"
            ) from None
        reducer = umap.UMAP(n_components=n_components, random_state=random_state)
        coords = np.asarray(reducer.fit_transform(matrix), dtype=np.float32)
    else:
        raise InvalidInputError(f"unknown projection method {method!r}; use 'pca' or 'umap'")
    return Projection(coords, label_list, method, model_name, explained)


def _pca(matrix: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    centred = matrix - matrix.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:n_components]
    # A deterministic sign: the largest loading of each component is positive.
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    coords = centred @ components.T
    if coords.shape[1] < n_components:  # fewer points or dimensions than components
        coords = np.pad(coords, ((0, 0), (0, n_components - coords.shape[1])))
    variance = singular**2
    explained = variance[:n_components] / max(float(variance.sum()), 1e-30)
    return coords.astype(np.float32), explained.astype(np.float32)
