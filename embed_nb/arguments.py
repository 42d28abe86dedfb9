"""What the API accepts: texts in their many forms, vectors, labels, the model and the cache.

Shared by :mod:`embed_nb.api`, :mod:`embed_nb.maps` and the widgets, so each input is checked
one way with one message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import registry
from .cache import EmbeddingCache
from .engine.inputs import checked_inputs, checked_texts
from .engine.protocol import EmbeddingModel, ModelArg, resolve_model
from .errors import InvalidInputError
from .jobs import JOB_PART, embed_job
from .media import decode_media, is_media
from .request import EmbedRequest
from .results import Embeddings

__all__ = [
    "CacheArg",
    "as_texts",
    "cache_store",
    "checked_labels",
    "checked_matrix",
    "embedded_vectors",
    "flag",
    "for_vectors",
    "n_rows",
    "vector_model",
]

CacheArg = bool | EmbeddingCache | None


def as_texts(
    texts: object, *, column: str | None = None, what: str = "texts", media: bool = False
) -> tuple[list[Any], bool, Any]:
    """Turn user input into ``(list of str, single, pandas index or None)``.

    Accepts a str (``single``), a list or tuple of str, a numpy array of str, a pandas Series,
    or a DataFrame with ``column`` named (or with a single column), and an :class:`Embeddings`
    (its texts). With ``media``, images and audio too, alone or among the texts, each decoded
    (:class:`~embed_nb.media.Media`; see :func:`embed_nb.media.decode_media`).
    """
    index = None
    if isinstance(texts, str):
        return [texts], True, None
    if media and is_media(texts):
        return [decode_media(texts)], True, None
    if isinstance(texts, Embeddings):
        if media and texts.media is not None:
            return [m or t for m, t in zip(texts.media, texts.texts, strict=True)], False, None
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
    return (checked_inputs if media else checked_texts)(texts, what), False, index


def _is_series(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "Series"


def _is_dataframe(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def flag(value: object, name: str) -> bool:
    """A yes/no option: a bool (numpy's too), never a str or a number that only looks true."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidInputError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def vector_model(model: ModelArg = None, job: str = "this") -> EmbeddingModel:
    """The model that ``model`` names (see :func:`embed`), refused when it gives no pooled
    embeddings to compare: a reranker (its RANK scores would make every pair look alike) or a
    per-token model. The magics and widgets call it before they embed texts to compare."""
    return for_vectors(resolve_model(model), job)


def for_vectors(model: EmbeddingModel, job: str) -> EmbeddingModel:
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


def cache_store(cache: CacheArg) -> EmbeddingCache | None:
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


def n_rows(data: object, what: str) -> int:
    """How many vectors ``data`` stands for, without embedding anything."""
    if isinstance(data, Embeddings):
        return len(data.texts) if not data.single else 1
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        return 1 if data.ndim <= 1 else int(data.shape[0])
    return len(as_texts(data, what=what)[0])


def embedded_vectors(
    data: object,
    model: ModelArg,
    what: str,
    job: str,
    cache: CacheArg = True,
    *,
    part: int = JOB_PART,
    cluster: object = None,
    request: EmbedRequest | None = None,
) -> tuple[np.ndarray, list[str], str | None]:
    """``(float32 (n, d) matrix, labels, model name)`` for embeddings, an array, or texts
    (embedded with the model, which must give embeddings, not reranker scores)."""
    if isinstance(data, Embeddings):
        return checked_matrix(data, what), list(data.texts), data.model
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        matrix = checked_matrix(data, what)
        return matrix, [str(i) for i in range(matrix.shape[0])], None
    items, single, index = as_texts(data, what=what)
    chosen = for_vectors(resolve_model(model), job)
    embedded = embed_job(
        chosen,
        items,
        request or EmbedRequest(),
        store=cache_store(cache),
        single=single,
        index=index,
        part=part,
        cluster=cluster,
    )
    return checked_matrix(embedded, what), list(embedded.texts), embedded.model


def bounded_int(value: object, name: str, low: int, high: int) -> int:
    """An int option from ``low`` to ``high``, or an :class:`InvalidInputError` saying so."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be from {low:,} to {high:,}, not {value}")
    return int(value)


def corpus_model(corpus: Any, model: ModelArg, job: str) -> EmbeddingModel:
    """The model to embed a query for ``corpus`` (an :class:`Embeddings` or quantised vectors,
    both carrying ``model``, ``fingerprint`` and ``pooling``): ``model`` if given, else a loaded
    model that made the corpus (same file and pooling), else the current one. Refused when it
    would not have made the corpus' vectors."""
    if model is not None:
        chosen = resolve_model(model)
    else:
        chosen = next(
            (
                r.model
                for r in registry.REGISTRY.list()
                if r.model.fingerprint == corpus.fingerprint
                and r.model.pooling == corpus.pooling
                and not r.model.closed
            ),
            None,
        ) or registry.REGISTRY.get(None)
    for_vectors(chosen, job)
    if chosen.fingerprint != corpus.fingerprint:
        raise InvalidInputError(
            f"the corpus was embedded with {corpus.model!r}, but the query would be embedded "
            f"with {chosen.name!r}; pass model= the one that embedded the corpus"
        )
    if chosen.pooling != corpus.pooling:
        raise InvalidInputError(
            f"the corpus was pooled {corpus.pooling!r} but {chosen.name} pools "
            f"{chosen.pooling!r}, so their vectors do not compare; load it with "
            f"pooling={corpus.pooling!r} and pass it as model="
        )
    return chosen
