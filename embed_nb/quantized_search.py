"""Search over quantised vectors, with float rescoring (``search(..., quantize=...)``).

Two stages, as sentence-transformers' ``semantic_search_usearch`` / ``_faiss`` with ``rescore``:

1. Candidates: the ``rescore_multiplier * k`` best by the quantised vectors. binary/ubinary:
   the smallest Hamming distance between the query's sign bits and each packed row.
   int8/uint8: the largest dot product of the query quantised with the corpus' own ranges and
   each row, both in signed form (uint8 minus 128: a raw 0..255 dot product would favour rows
   that are large in every dimension, whatever their direction).
2. Rescoring: the float query against each candidate dequantised (:func:`~embed_nb.quantize.
   dequantize`): the bucket's lower edge for int8/uint8, the +-1 sign vector for binary. The
   score is their cosine, as every embed_nb search reports. For binary this ranks exactly as
   sentence-transformers' dot product with the 0/1 bits does (every sign vector has the same
   norm, and ``q . bits = (q . signs + sum(q)) / 2``); for int8 it differs from their dot
   product only by the quantisation error in a unit vector's norm.

The corpus keeps only the quantised rows; the float query is embedded with the model that
made the corpus, the way the corpus was embedded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .arguments import CacheArg, cache_store, corpus_model, for_vectors
from .engine.protocol import ModelArg, resolve_model
from .errors import InvalidInputError
from .jobs import embed_job
from .progress import ProgressArg
from .prompts import model_prompts
from .quantize import QuantizedEmbeddings, _unsigned_bits, dequantize, quantize, quantize_array
from .rankings import SearchHit, SearchResult
from .request import EmbedRequest
from .results import Embeddings
from .vectors import cosine_scores, top_k

__all__ = ["DEFAULT_RESCORE_MULTIPLIER", "rescored_top_k", "search_quantized", "wants_quantized"]

#: Candidates per wanted hit when ``rescore_multiplier`` is not given.
DEFAULT_RESCORE_MULTIPLIER = 4

# Rows per block of the int8 candidate products (float64, so the integer sums are exact).
_BLOCK_ROWS = 16384


def wants_quantized(corpus: object, quantize: object, rescore_multiplier: object) -> bool:
    """Whether :func:`embed_nb.search` should hand the call to :func:`search_quantized`."""
    return (
        quantize is not None
        or rescore_multiplier is not None
        or isinstance(corpus, QuantizedEmbeddings)
    )


def search_quantized(
    query: str,
    corpus: object,
    k: int,
    *,
    quantize_to: str | None,
    rescore_multiplier: int | None,
    model: ModelArg = None,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
    cluster: object = None,
) -> SearchResult:
    """:func:`embed_nb.search` over quantised vectors: texts or Embeddings are quantised to
    ``quantize_to`` first; a :class:`QuantizedEmbeddings` corpus is searched as it is."""
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, not {k!r}")
    multiplier = _checked_multiplier(rescore_multiplier)
    if isinstance(corpus, QuantizedEmbeddings):
        if quantize_to is not None and quantize_to != corpus.precision:
            raise InvalidInputError(
                f"the corpus is quantised to {corpus.precision!r} already; drop quantize= "
                f"or quantise the float vectors to {quantize_to!r}"
            )
        packed = corpus
    elif quantize_to is None:
        raise InvalidInputError(
            "rescore_multiplier applies to a quantised corpus; pass quantize='binary' (or "
            "int8, uint8, ubinary), or a corpus made with Embeddings.quantize()"
        )
    else:
        packed = quantize(
            _float_corpus(corpus, model, cache, progress, column, cluster), quantize_to
        )
    chosen = corpus_model(packed, model, "search")
    # The query as the corpus was embedded, but with the model's query prompt (as api.search).
    request = replace(packed.request, prompt=model_prompts(chosen).query)
    query_vector = np.asarray(
        embed_job(chosen, [query], request, store=cache_store(cache), progress=False, single=True)
    ).astype(np.float64)
    if query_vector.shape != (packed.dim,):
        raise InvalidInputError(
            f"the corpus has {packed.dim}-dimensional vectors but {chosen.name} gives "
            f"{query_vector.shape[-1]}-dimensional ones; pass model= the model that embedded "
            "the corpus"
        )
    order, scores = rescored_top_k(query_vector, packed, int(k), multiplier)
    labels = packed.extra.get("index")
    hits = [
        SearchHit(
            rank=rank,
            index=int(i),
            document=packed.texts[int(i)],
            score=float(score),
            label=None if labels is None else labels[int(i)],
        )
        for rank, (i, score) in enumerate(zip(order, scores, strict=True), 1)
    ]
    return SearchResult(
        query=query,
        hits=hits,
        model=chosen.name,
        corpus_size=len(packed),
        method=f"{packed.precision}, rescored",
    )


def rescored_top_k(
    query: np.ndarray, corpus: QuantizedEmbeddings, k: int, rescore_multiplier: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best rows for a float ``(d,)`` query: ``(indices, cosine scores)``, best first.

    ``rescore_multiplier * k`` candidates come from the quantised rows; the float query
    rescores them against their dequantised values (so multiplier 1 only reorders the
    quantised top ``k``).
    """
    rows = corpus.packed.reshape(len(corpus), -1)
    n_candidates = min(len(rows), k * rescore_multiplier)
    if corpus.precision in ("binary", "ubinary"):
        query_bits = np.packbits(query > 0)
        bits = _unsigned_bits(rows, corpus.precision)
        distances = np.bitwise_count(bits ^ query_bits).sum(axis=1, dtype=np.int64)
        candidates, _ = top_k(-distances, n_candidates)
    else:
        query_q, _ = quantize_array(query, corpus.precision, ranges=corpus.ranges)
        candidates, _ = top_k(_signed_dots(rows, query_q), n_candidates)
    vectors = dequantize(rows[candidates], corpus.precision, corpus.ranges, corpus.dim)
    rescored = cosine_scores(vectors, query)
    best, scores = top_k(rescored, k)
    return candidates[best], scores


def _signed_dots(rows: np.ndarray, query_q: np.ndarray) -> np.ndarray:
    """Dot products of int8/uint8 rows with the quantised query, both centred on 0."""
    shift = 128.0 if rows.dtype == np.uint8 else 0.0
    q = query_q.astype(np.float64) - shift
    dots = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _BLOCK_ROWS):  # a float64 block at a time, not n x d
        block = rows[start : start + _BLOCK_ROWS].astype(np.float64) - shift
        dots[start : start + _BLOCK_ROWS] = block @ q
    return dots


def _checked_multiplier(value: object) -> int:
    if value is None:
        return DEFAULT_RESCORE_MULTIPLIER
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInputError(
            f"rescore_multiplier must be a positive integer (candidates per hit), not {value!r}"
        )
    return int(value)


def _float_corpus(
    corpus: object,
    model: ModelArg,
    cache: CacheArg,
    progress: ProgressArg,
    column: str | None,
    cluster: object,
) -> Embeddings:
    """The corpus' float vectors: an Embeddings as it is, texts embedded the way
    :func:`embed_nb.search` embeds a text corpus (L2-normalised, with the document prompt)."""
    if isinstance(corpus, Embeddings):
        return corpus
    from .api import embed

    chosen = for_vectors(resolve_model(model), "search")
    return embed(
        corpus,
        model=chosen,
        normalize=EmbedRequest().normalize,
        prompt="document",
        cache=cache,
        progress=progress,
        column=column,
        cluster=cluster,
    )
