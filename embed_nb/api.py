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
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import registry
from .cache import EmbeddingCache, cache_key
from .engine.inputs import check_top_n, checked_texts
from .engine.protocol import EmbeddingModel, ModelArg, resolve_model
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
from .vectors import cosine_scores, cosine_similarity, pca, top_k, umap_layout, unit_rows

__all__ = [
    "JOB_PART",
    "SIMILARITY_MAX_BYTES",
    "EmbeddingModel",
    "as_texts",
    "checked_labels",
    "checked_matrix",
    "embed",
    "project",
    "rerank",
    "retrieve",
    "search",
    "similarity",
    "vector_model",
]

#: Texts per engine call in a long job; each part is cached as soon as it finishes.
JOB_PART = 256

#: The most memory :func:`similarity` may give its result matrix (float32 cells) unless the
#: call passes ``max_bytes``: 1 GiB, a 16,384 x 16,384 matrix. Larger matrices are refused
#: before anything is embedded, with the size they would need.
SIMILARITY_MAX_BYTES = 1024**3

CacheArg = bool | EmbeddingCache | None


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
    return resolve_model(model)


def _flag(value: object, name: str) -> bool:
    """A yes/no option: a bool (numpy's too), never a str or a number that only looks true."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidInputError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def vector_model(model: ModelArg = None, job: str = "this") -> EmbeddingModel:
    """The model that ``model`` names (see :func:`embed`), refused when it gives no pooled
    embeddings to compare: a reranker (its RANK scores would make every pair look alike) or a
    per-token model. The magics and widgets call it before they embed texts to compare."""
    return _for_vectors(_model(model), job)


def _for_vectors(model: EmbeddingModel, job: str) -> EmbeddingModel:
    """Refuse a model whose outputs are not embeddings for a job that compares embeddings."""
    if model.is_reranker or model.pooling == "rank":
        raise InvalidInputError(
            f"{model.name} is a reranker (pooling 'rank'): it gives relevance scores, not "
            f"embeddings, so {job} with it would score everything alike; use "
            "rerank(query, documents) with it, or an embedding model for this"
        )
    if model.pooling == "none":
        raise InvalidInputError(
            f"{model.name} pools 'none' (one vector per token); {job} needs pooled "
            "embeddings: load it with pooling='mean' (or cls/last)"
        )
    return model


def _cache(cache: CacheArg) -> EmbeddingCache | None:
    # True / None follow the kernel's settings (%config EmbedMagics.cache and .cache_dir).
    if cache is None or cache is True:
        from .settings import SETTINGS

        return SETTINGS.cache_store()
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
    normalize: int | None = None,
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
        normalize: llama.cpp's ``embd_normalize``: -1 none, 0 max-abs, 1 L1, 2 L2, p > 2;
            None: the kernel's setting (``%config EmbedMagics.normalize``, 2 unless changed).
        truncate: cut texts longer than the model's context instead of failing.
        chunk: embed long texts in overlapping windows and average them.
        cache: True (the kernel's cache: ``%config EmbedMagics.cache`` / ``.cache_dir``,
            the user cache unless changed), False (none) or an :class:`EmbeddingCache`.
        progress: None (a bar for jobs of at least ``%config EmbedMagics.progress_threshold``
            texts, 256 unless changed), True, False, an int threshold, or a
            ``callable(done, total)``.
        column: the text column when ``texts`` is a DataFrame.
        tokens: per-token vectors (pooling ``none``): the current model is loaded a second time
            with pooling none if it pools otherwise.

    Raises:
        KeyboardInterrupt: stops between decodes; parts already done stay in the cache (the
            exception carries a note saying how many) and the model stays usable.
    """
    truncate, chunk, tokens = (
        _flag(truncate, "truncate"),
        _flag(chunk, "chunk"),
        _flag(tokens, "tokens"),
    )
    items, single, index = as_texts(texts, column=column)
    if normalize is None:
        from .settings import SETTINGS

        normalize = SETTINGS.normalize
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
    # dim: a row of the right size but another shape is a miss, not a wrong vector.
    found = store.get_many(keys, dim=getattr(model, "n_embd", 0) or None) if store else {}
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
    truncate = _flag(truncate, "truncate")
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


# --- vectors -------------------------------------------------------------------------------


def checked_matrix(data: object, what: str = "embeddings") -> np.ndarray:
    """A float32 ``(n, d)`` matrix of vectors (a 1-D array is one vector), checked.

    Refuses what no comparison can use: strings or objects, booleans or complex numbers,
    more than 2 dimensions, no rows, fewer than 2 dimensions per vector (cosine of 1-D
    vectors is only ever +1 or -1), and NaN or infinite values.

    Raises:
        InvalidInputError: with what is wrong and what to pass instead.
    """
    if isinstance(data, Embeddings):
        if data.vectors is None:
            raise InvalidInputError(
                f"{what} holds per-token vectors (pooling none); use pooled embeddings"
            )
        if data.pooling == "rank":
            raise InvalidInputError(
                f"{what} holds a reranker's scores (pooling 'rank' by {data.model}), not "
                "embeddings; embed the texts with an embedding model"
            )
        data = data.vectors
    array = data if isinstance(data, np.ndarray) else None
    if array is None:
        raise InvalidInputError(
            f"{what} must be Embeddings or a numeric array of vectors, not {type(data).__name__}"
        )
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(
            f"{what} must hold numbers, not {array.dtype} values; pass float vectors "
            "(or a list of str to embed)"
        )
    if array.ndim not in (1, 2):
        raise InvalidInputError(f"{what} must be a 1-D or 2-D array, not {array.ndim}-D")
    matrix = np.atleast_2d(array)
    n, d = matrix.shape
    if n == 0:
        raise InvalidInputError(f"{what} has no vectors: pass at least one")
    if d < 2:
        raise InvalidInputError(
            f"{what} has {d}-dimensional vectors; comparing them needs at least 2 dimensions "
            "(a reranker's scores are not embeddings)"
        )
    with np.errstate(over="ignore"):
        matrix = matrix.astype(np.float32, copy=False)
    if not np.isfinite(matrix).all():
        raise InvalidInputError(
            f"{what} holds NaN or infinite values (or numbers too large for float32); "
            "drop or fix those rows first"
        )
    return matrix


def checked_labels(labels: object, n: int, what: str = "labels") -> list[Any]:
    """``labels`` as a list of ``n`` values (one per point), or a clear error.

    Accepts a list, a tuple, a range, a 1-D numpy array or a pandas Series / Index; refuses a
    str, a dict, a set, a scalar, or the wrong number of labels.
    """
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise InvalidInputError(f"{what} must be 1-D, not an array of shape {labels.shape}")
        values = labels.tolist()
    elif _is_series(labels) or type(labels).__name__.endswith("Index"):
        values = list(labels.tolist())  # type: ignore[attr-defined]
    elif isinstance(labels, list | tuple | range):
        values = list(labels)
    else:
        raise InvalidInputError(
            f"{what} must be a list (or array, or Series) with one label per point, "
            f"not {type(labels).__name__}"
        )
    if len(values) != n:
        raise InvalidInputError(f"{len(values)} {what} for {n} points; give one label per point")
    return values


def _n_rows(data: object, what: str) -> int:
    """How many vectors ``data`` stands for, without embedding anything."""
    if isinstance(data, Embeddings):
        return len(data.texts) if not data.single else 1
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        return 1 if data.ndim <= 1 else int(data.shape[0])
    return len(as_texts(data, what=what)[0])


def _vectors(
    data: object, model: ModelArg, what: str, job: str, cache: CacheArg = True
) -> tuple[np.ndarray, list[str], str | None]:
    """``(float32 (n, d) matrix, labels, model name)`` for embeddings, an array, or texts
    (embedded with the model, which must give embeddings, not reranker scores)."""
    if isinstance(data, Embeddings):
        return checked_matrix(data, what), list(data.texts), data.model
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        matrix = checked_matrix(data, what)
        return matrix, [str(i) for i in range(matrix.shape[0])], None
    items, single, index = as_texts(data, what=what)
    chosen = _for_vectors(_model(model), job)
    embedded = _embed_items(chosen, items, single, index, 2, False, False, _cache(cache), None)
    return checked_matrix(embedded, what), list(embedded.texts), embedded.model


def _gib(n_bytes: float) -> str:
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:,.1f} GiB"
    return f"{n_bytes / 1024**2:,.0f} MiB"


# --- similarity ----------------------------------------------------------------------------


def similarity(
    a: object,
    b: object = None,
    *,
    model: ModelArg = None,
    cache: CacheArg = True,
    max_bytes: int | None = None,
) -> SimilarityMatrix:
    """Cosine similarities: ``a`` against itself, or ``a`` (rows) against ``b`` (columns).

    Each of ``a`` and ``b`` is an :class:`Embeddings`, a numpy array of vectors, or texts
    (a str, a list of str or a pandas Series), which are embedded with ``model`` (an embedding
    model: a reranker's scores are not vectors and are refused). ``np.asarray(result)`` gives
    the matrix.

    The full matrix is kept in memory as float32, 4 bytes a cell. A matrix larger than
    ``max_bytes`` (default :data:`SIMILARITY_MAX_BYTES`, 1 GiB: 16,384 x 16,384) is refused
    before anything is embedded, with the size it would need: for the best matches of a few
    texts use :func:`search`, or compare a sample, or raise ``max_bytes`` knowingly.

    Raises:
        InvalidInputError: bad inputs, a reranker, vectors of different sizes, or a matrix over
            the memory budget.
    """
    budget = SIMILARITY_MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise InvalidInputError(f"max_bytes must be a non-negative integer, not {max_bytes!r}")
    n_left = _n_rows(a, "a")
    n_right = n_left if b is None else _n_rows(b, "b")
    needed = 4 * n_left * n_right
    if needed > budget:
        raise InvalidInputError(
            f"a {n_left:,} x {n_right:,} similarity matrix needs {_gib(needed)}, more than the "
            f"{_gib(budget)} allowed; use search() for the best matches, compare a sample, or "
            "pass max_bytes= to allow more"
        )
    left, left_labels, left_model = _vectors(a, model, "a", "similarity", cache)
    if b is None:
        right, right_labels, right_model = left, left_labels, left_model
    else:
        right, right_labels, right_model = _vectors(b, model, "b", "similarity", cache)
    if left.shape[1] != right.shape[1]:
        raise InvalidInputError(
            f"a has {left.shape[1]}-dimensional vectors and b {right.shape[1]}-dimensional ones; "
            "embed both with the same model"
        )
    matrix = cosine_similarity(left, None if b is None else right)
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
    once and then found in the cache on later searches, or an :class:`Embeddings` made earlier.
    The query is then embedded the way the corpus was: with the model that made it (which must
    be loaded, with the same pooling) and the same ``normalize``, ``truncate`` and ``chunk``.

    Raises:
        InvalidInputError: a reranker or a per-token model, or an Embeddings corpus that the
            model would not embed the same way (another file, pooling or dimension).
    """
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, not {k!r}")
    chosen = _model(model) if model is not None or not isinstance(corpus, Embeddings) else None
    if isinstance(corpus, Embeddings):
        documents = corpus
        chosen = _for_vectors(chosen or _model_for(corpus), "search")
        _check_same_embedding(chosen, corpus)
        normalize, truncate, chunk = corpus.normalize, corpus.truncate, corpus.chunk
    else:
        assert chosen is not None
        _for_vectors(chosen, "search")
        items, _, index = as_texts(corpus, column=column, what="corpus")
        normalize, truncate, chunk = 2, False, False
        documents = _embed_items(
            chosen, items, False, index, normalize, truncate, chunk, _cache(cache), progress
        )
    matrix = checked_matrix(documents, "the corpus").astype(np.float64)
    query_vector = np.asarray(
        _embed_items(chosen, [query], True, None, normalize, truncate, chunk, _cache(cache), False)
    ).astype(np.float64)
    if query_vector.shape != (matrix.shape[1],):
        raise InvalidInputError(
            f"the corpus has {matrix.shape[1]}-dimensional vectors but {chosen.name} gives "
            f"{query_vector.shape[-1]}-dimensional ones; pass model= the model that embedded "
            "the corpus"
        )
    scores = cosine_scores(matrix, query_vector)
    order, _ = top_k(scores, int(k))
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


def _check_same_embedding(model: EmbeddingModel, corpus: Embeddings) -> None:
    """Refuse to embed a query with a model that would not have made the corpus' vectors."""
    if model.fingerprint != corpus.fingerprint:
        raise InvalidInputError(
            f"the corpus was embedded with {corpus.model!r}, but the query would be embedded "
            f"with {model.name!r}; pass model= the one that embedded the corpus"
        )
    if model.pooling != corpus.pooling:
        raise InvalidInputError(
            f"the corpus was pooled {corpus.pooling!r} but {model.name} pools {model.pooling!r}, "
            f"so their vectors do not compare; load it with pooling={corpus.pooling!r} "
            "and pass it as model="
        )


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
    if not isinstance(template, str) or not isinstance(sep, str):  # before the search's work
        raise InvalidInputError("template and sep must be str")
    result = search(query, corpus, k, model=model, cache=cache, column=column)
    return result.context(template, sep)


# --- projection ----------------------------------------------------------------------------

PROJECTION_METHODS = ("pca", "umap")


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
    """2-D coordinates of vectors: ``"pca"`` (numpy, instant) or ``"umap"`` (needs
    ``umap-learn``). ``embeddings`` is an :class:`Embeddings`, an array, or texts to embed.

    Both come from :mod:`embed_nb.vectors`, as in the widgets: UMAP is the fast cosine UMAP of
    :class:`~embed_nb.widgets.ProjectionView`, so the same vectors and ``random_state`` give
    the layout that view shows (before it scales the layout to fit its canvas).

    ``n_components`` is an integer from 2 to the vectors' dimension; ``labels`` one label per
    point. ``np.asarray(result)`` gives the ``(n, n_components)`` coordinates.

    Raises:
        InvalidInputError: NaN or infinite vectors, fewer than 2 points, a reranker, an
            unknown method, or ``n_components``, ``random_state`` or ``labels`` out of range.
    """
    if not isinstance(method, str) or method.lower() not in PROJECTION_METHODS:
        raise InvalidInputError(f"unknown projection method {method!r}; use 'pca' or 'umap'")
    method = method.lower()
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise InvalidInputError(f"n_components must be an integer, not {n_components!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise InvalidInputError(f"random_state must be an integer, not {random_state!r}")
    if not 0 <= random_state < 2**32:
        raise InvalidInputError(f"random_state must be from 0 to 2**32 - 1, not {random_state}")
    matrix, default_labels, model_name = _vectors(embeddings, model, "embeddings", "a map", cache)
    n, d = matrix.shape
    if not 2 <= n_components <= d:
        raise InvalidInputError(
            f"n_components must be from 2 to the vectors' dimension {d}, not {n_components}"
        )
    n_components = int(n_components)
    if labels is not None:
        label_list = [str(x) for x in checked_labels(labels, n)]
    else:
        label_list = default_labels
    if n < 2:
        raise InvalidInputError("a map needs at least 2 points")
    explained = None
    if method == "pca":
        coords, explained = pca(matrix.astype(np.float64), n_components)
    else:
        coords = _umap(matrix, n_components, int(random_state))
    return Projection(coords, label_list, method, model_name, explained)


def _umap(matrix: np.ndarray, n_components: int, random_state: int) -> np.ndarray:
    try:
        import umap  # noqa: F401  (only to say what to install; vectors.py uses it)
    except ImportError:
        raise InvalidInputError(
            "method='umap' needs umap-learn (pip install umap-learn); method='pca' works now"
        ) from None
    if len(matrix) < n_components + 2:
        raise InvalidInputError(
            f"UMAP needs at least {n_components + 2} points for {n_components} components, "
            f"not {len(matrix)}; use method='pca'"
        )
    try:
        # Unit rows, as the widget passes them, so that both compute bit for bit the same.
        coords = umap_layout(unit_rows(matrix), n_components, random_state=random_state)
    except (ValueError, TypeError) as error:  # umap's own checks on odd data
        raise InvalidInputError(
            f"UMAP failed on these vectors ({error}); use method='pca'"
        ) from None
    return np.asarray(coords, dtype=np.float32)
