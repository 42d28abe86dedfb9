"""The notebook API: embed, rerank, similarity, search, retrieve and project.

Every magic is a thin front end over one of these functions. They work with any model that has
the :class:`EmbeddingModel` shape (the in-kernel :class:`~embed_nb.engine.LocalModel` or a remote
one), take the kernel's current model when ``model`` is not given (see :mod:`embed_nb.registry`),
and accept a str, a list of str, a pandas Series or a DataFrame column as texts.

Embeddings go through the content-addressed cache (:mod:`embed_nb.cache`): re-running a cell
finds its vectors without touching the model. Long jobs run in parts of
:data:`JOB_PART` texts, each cached as soon as it is done, so an interrupt keeps the finished parts.

Where the parts live: inputs are checked in :mod:`embed_nb.arguments`, the embedding job
(plan, run, assemble) is :mod:`embed_nb.jobs`, and :func:`project` is in :mod:`embed_nb.maps`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import registry
from .arguments import (
    CacheArg,
    as_texts,
    cache_store,
    checked_labels,
    checked_matrix,
    corpus_model,
    embedded_vectors,
    flag,
    for_vectors,
    n_rows,
    vector_model,
)
from .dims import checked_dim
from .engine.inputs import check_top_n
from .engine.protocol import EmbeddingModel, ModelArg, resolve_model
from .errors import InvalidInputError, NotARerankerError
from .jobs import JOB_PART, embed_job
from .maps import PROJECTION_METHODS, project
from .media import decode_media, is_media
from .progress import ProgressArg
from .prompts import model_prompts, prompt_text
from .quantized_search import search_quantized, wants_quantized
from .request import EmbedRequest
from .results import (
    Embeddings,
    RerankResult,
    RetrievedContext,
    SearchHit,
    SearchResult,
    SimilarityMatrix,
    rank_hits,
)
from .retrieval import rerank_plan, reranked
from .vectors import cosine_scores, cosine_similarity, top_k

__all__ = [
    "JOB_PART",
    "PROJECTION_METHODS",
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

#: The most memory :func:`similarity` may give its result matrix (float32 cells) unless the
#: call passes ``max_bytes``: 1 GiB, a 16,384 x 16,384 matrix. Larger matrices are refused
#: before anything is embedded, with the size they would need.
SIMILARITY_MAX_BYTES = 1024**3


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
    cluster: object = None,
    prompt: str | None = None,
    dim: int | None = None,
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
        cluster: run the texts the cache lacks on a Dask cluster (the ``dask`` extra): a
            ``distributed.Client``, a cluster object, a scheduler address such as
            ``"tcp://host:8786"``, or True for the notebook's default client. Workers load
            their own copy of the model (see :mod:`embed_nb.distributed`); the result is the
            same as in the kernel.
        prompt: text put before each text (part of the cache key): ``"query"`` or
            ``"document"`` for the model's prompt of that kind (``model.prompts``; none when
            it has none), or the literal text. ``Embeddings.texts`` stays the texts given;
            token counts are of what the model read, the prompt included.
        dim: keep the first ``dim`` components and normalise again (sentence-transformers'
            ``truncate_dim``), 1..d; for Matryoshka-trained models.

    Raises:
        KeyboardInterrupt: stops between decodes; parts already done stay in the cache (the
            exception carries a note saying how many) and the model stays usable.
    """
    truncate, chunk, tokens = (
        flag(truncate, "truncate"),
        flag(chunk, "chunk"),
        flag(tokens, "tokens"),
    )
    items, single, index = as_texts(texts, column=column, media=True)
    if normalize is None:
        from .settings import SETTINGS

        normalize = SETTINGS.normalize
    chosen = resolve_model(model)
    request = EmbedRequest(
        normalize=normalize,
        truncate=truncate,
        chunk=chunk,
        prompt=prompt_text(chosen, prompt),
        dim=checked_dim(dim),
    )
    if tokens:
        chosen = registry.REGISTRY.with_pooling(chosen, "none")
    return embed_job(
        chosen,
        items,
        request,
        store=cache_store(cache),
        progress=progress,
        single=single,
        index=index,
        part=JOB_PART,  # read at call time: api.JOB_PART may be changed
        cluster=cluster,
    )


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
    instruction: str | None = None,
) -> RerankResult:
    """Order documents by relevance to a query, best first.

    With a reranker (RANK pooling) the scores are its raw relevance scores, as llama-server's
    ``/v1/rerank`` gives them (``method="rank"``). With an embedding model the documents are
    ordered by cosine similarity to the query instead (``method="cosine"``), and the result
    says so.

    ``instruction`` replaces the default instruction of an instruction-tuned reranker's
    ``rerank`` template (Qwen3-Reranker's ``<Instruct>:`` line; ``model.rerank_instruction``
    shows it); any other model refuses it.
    """
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    truncate = flag(truncate, "truncate")
    docs, _, _ = as_texts(documents, column=column, what="documents")
    check_top_n(top_n)
    chosen = resolve_model(model)
    if chosen.is_reranker:
        return chosen.rerank(query, docs, top_n, truncate=truncate, instruction=instruction)
    if instruction is not None:
        raise InvalidInputError(
            f"{chosen.name} is an embedding model, not a reranker, so it takes no instruction; "
            "load an instruction-tuned reranker (such as Qwen3-Reranker) or leave it out"
        )
    if chosen.pooling == "none":
        raise NotARerankerError(
            f"{chosen.name} pools 'none' (one vector per token), so it can neither rerank nor "
            "rank by cosine; load a reranker, or an embedding model with pooling"
        )
    result = embed_job(
        chosen, [query, *docs], EmbedRequest(truncate=truncate), store=cache_store(cache)
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
    n_left = n_rows(a, "a")
    n_right = n_left if b is None else n_rows(b, "b")
    needed = 4 * n_left * n_right
    if needed > budget:
        raise InvalidInputError(
            f"a {n_left:,} x {n_right:,} similarity matrix needs {_gib(needed)}, more than the "
            f"{_gib(budget)} allowed; use search() for the best matches, compare a sample, or "
            "pass max_bytes= to allow more"
        )
    # Texts beside an Embeddings are embedded the way it was (its prompt and dim).
    like = next((x.request for x in (a, b) if isinstance(x, Embeddings)), None)
    left, left_labels, left_model = embedded_vectors(
        a, model, "a", "similarity", cache, part=JOB_PART, request=like
    )
    if b is None:
        right, right_labels, right_model = left, left_labels, left_model
    else:
        right, right_labels, right_model = embedded_vectors(
            b, model, "b", "similarity", cache, part=JOB_PART, request=like
        )
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
    query: object,
    corpus: object,
    k: int = 5,
    *,
    model: ModelArg = None,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
    cluster: object = None,
    quantize: str | None = None,
    rescore_multiplier: int | None = None,
    rerank: ModelArg = None,
    top_n: int | None = None,
    rerank_fallback: str | None = None,
) -> SearchResult:
    """The ``k`` documents of ``corpus`` most similar to ``query`` (cosine), best first.

    ``corpus`` is texts (a list of str, a pandas Series, a DataFrame with ``column``), embedded
    once and then found in the cache on later searches, or an :class:`Embeddings` made earlier.
    With a model loaded with a projector (``mmproj=``), the query and the corpus may hold
    images and audio too (see :func:`embed`): an image finds texts and images alike.
    The query is then embedded the way the corpus was: with the model that made it (which must
    be loaded, with the same pooling) and the same ``normalize``, ``truncate``, ``chunk`` and
    ``dim``. A model with prompts (``model.prompts``) gets its document prompt before each text
    of a texts corpus and its query prompt before the query.
    ``cluster`` embeds the corpus on a Dask cluster, as in :func:`embed`; the query is
    embedded in the kernel.

    ``quantize`` (``"int8"``, ``"uint8"``, ``"binary"``, ``"ubinary"``) quantises the corpus
    first, and a :class:`~embed_nb.quantize.QuantizedEmbeddings` corpus is searched as it is:
    ``rescore_multiplier * k`` candidates (default 4x) by the quantised vectors, rescored with
    the float query (see :mod:`embed_nb.quantized_search`).

    ``rerank`` (a loaded reranker or its name) reorders the ``k`` hits, and only those, by
    the reranker's scores and keeps the best ``top_n`` (None: all k), giving a
    :class:`~embed_nb.retrieval.RerankedSearchResult` whose hits have both scores. A
    ``rerank`` model that is not a reranker is refused unless ``rerank_fallback="cosine"``
    asks to reorder by its cosine similarity (see :mod:`embed_nb.retrieval`).

    Raises:
        InvalidInputError: a reranker or a per-token model, or an Embeddings corpus that the
            model would not embed the same way (another file, pooling or dimension).
        NotARerankerError: ``rerank`` names an embedding model and no fallback was asked for.
    """
    plan = rerank_plan(rerank, top_n, rerank_fallback)  # checked before anything is embedded
    if wants_quantized(corpus, quantize, rescore_multiplier):
        if not isinstance(query, str):
            raise InvalidInputError(
                f"a quantised search takes a str query, not {type(query).__name__}"
            )
        found = search_quantized(
            query,
            corpus,
            k,
            quantize_to=quantize,
            rescore_multiplier=rescore_multiplier,
            model=model,
            cache=cache,
            progress=progress,
            column=column,
            cluster=cluster,
        )
        return reranked(plan, found, cache=cache)
    if is_media(query):
        query = decode_media(query)
    elif not isinstance(query, str):
        raise InvalidInputError(
            f"query must be a str (or an image or clip), not {type(query).__name__}"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, not {k!r}")
    if isinstance(corpus, Embeddings):
        documents = corpus
        chosen = corpus_model(corpus, model, "search")
        request = corpus.request  # the query is embedded the way the corpus was
    else:
        chosen = for_vectors(resolve_model(model), "search")
        items, _, index = as_texts(corpus, column=column, what="corpus", media=True)
        request = EmbedRequest(prompt=model_prompts(chosen).document)
        documents = embed_job(
            chosen,
            items,
            request,
            store=cache_store(cache),
            progress=progress,
            index=index,
            part=JOB_PART,
            cluster=cluster,
        )
    matrix = checked_matrix(documents, "the corpus").astype(np.float64)
    # ...but as a query: with the model's query prompt, as its corpus had the document one.
    request = replace(request, prompt=model_prompts(chosen).query)
    query_vector = np.asarray(
        embed_job(chosen, [query], request, store=cache_store(cache), progress=False, single=True)
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
    media = documents.media or ()
    hits = [
        SearchHit(
            rank=rank,
            index=int(i),
            document=documents.texts[int(i)],
            score=float(scores[i]),
            label=None if labels is None else labels[int(i)],
            media=media[int(i)] if media else None,
        )
        for rank, i in enumerate(order, 1)
    ]
    query_media = None if isinstance(query, str) else query
    found = SearchResult(
        query=query if isinstance(query, str) else query.label,
        hits=hits,
        model=chosen.name,
        corpus_size=len(documents),
        query_media=query_media,
    )
    return reranked(plan, found, cache=cache)


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
