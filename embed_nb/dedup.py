"""Near-duplicate pairs and communities: :func:`paraphrases` and :func:`communities`.

Both follow sentence-transformers' ``util.paraphrase_mining_embeddings`` and
``util.community_detection`` (their semantics, read from sentence-transformers 6.2.0; this is
our own code), on embed_nb's engine and cache, and both work one block of rows against all
columns at a time, so no ``n x n`` matrix is ever made: 100,000 texts need a few hundred MB
(the vectors plus one block of scores), not the 40 GB of a full float32 matrix.

Both return a pandas DataFrame, the table a notebook shows and a user filters:

* :func:`paraphrases`: one row per pair, ``i < j`` (positions in the input), ``score``
  (cosine), and ``text_i`` / ``text_j`` when the input had texts; best score first.
* :func:`communities`: one row per member, ``community`` (0 is the largest), ``size``,
  ``index`` (position in the input), ``is_centre``, ``score`` (cosine to the centre) and
  ``text`` when the input had texts; largest community first, its centre first, then by score.
  ``df.groupby("community")["index"].apply(list)`` gives sentence-transformers' list of lists.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arguments import CacheArg, as_texts, checked_matrix, flag, for_vectors
from .engine.protocol import ModelArg, resolve_model
from .errors import InvalidInputError
from .progress import ProgressArg
from .results import Embeddings
from .vectors import unit_rows

__all__ = ["BLOCK_BYTES", "checked_positive", "checked_threshold", "communities", "paraphrases"]

#: How large one block of float32 scores (rows x all columns) may be, unless ``block_size``
#: names the rows: 64 MiB, 167 rows against 100,000 columns.
BLOCK_BYTES = 64 << 20

_PAIR_COLUMNS = ["i", "j", "score"]
_MEMBER_COLUMNS = ["community", "size", "index", "is_centre", "score"]


# --- inputs --------------------------------------------------------------------------------


def checked_threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidInputError(f"threshold must be a number from -1 to 1, not {value!r}")
    number = float(value)
    if math.isnan(number) or not -1.0 <= number <= 1.0:
        raise InvalidInputError(
            f"threshold must be from -1 to 1 (a cosine similarity), not {value!r}"
        )
    return number


def checked_positive(value: object, name: str, *, optional: bool = False) -> int | None:
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        extra = " or None" if optional else ""
        raise InvalidInputError(f"{name} must be a positive integer{extra}, not {value!r}")
    return int(value)


def _vectors(
    data: object,
    *,
    job: str,
    model: ModelArg,
    cache: CacheArg,
    progress: ProgressArg,
    column: str | None,
    truncate: bool,
    chunk: bool,
    cluster: object,
) -> tuple[np.ndarray, list[str] | None]:
    """``(unit float32 rows, texts or None)``: vectors as given, or texts embedded through
    :func:`embed_nb.embed` (so the cache, the model and ``cluster`` work as they do there)."""
    texts: list[str] | None
    if isinstance(data, Embeddings):
        matrix, texts = checked_matrix(data, job), list(data.texts)
    elif isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        matrix, texts = checked_matrix(data, job), None
    else:
        from .api import embed

        items, single, _ = as_texts(data, column=column)
        if single or len(items) < 2:
            raise InvalidInputError(f"{job} needs at least 2 texts, not {len(items)}")
        chosen = for_vectors(resolve_model(model), job)
        embedded = embed(
            data,
            model=chosen,
            truncate=flag(truncate, "truncate"),
            chunk=flag(chunk, "chunk"),
            cache=cache,
            progress=progress,
            column=column,
            cluster=cluster,
        )
        matrix, texts = checked_matrix(embedded, job), list(embedded.texts)
    if len(matrix) < 2 or np.ndim(matrix) != 2:
        raise InvalidInputError(f"{job} needs at least 2 vectors, not {len(matrix)}")
    return unit_rows(matrix, np.float32), texts


def _blocks(n: int, block_size: int | None) -> list[tuple[int, int]]:
    """``(start, stop)`` of each block: ``block_size`` rows, or as many as fit
    :data:`BLOCK_BYTES` of float32 scores against all ``n`` columns."""
    rows = block_size if block_size is not None else max(1, BLOCK_BYTES // (4 * n))
    return [(start, min(n, start + rows)) for start in range(0, n, rows)]


# --- paraphrases ---------------------------------------------------------------------------


def paraphrases(
    data: object,
    *,
    threshold: float = 0.9,
    top_k: int = 100,
    max_pairs: int | None = 500_000,
    model: ModelArg = None,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
    truncate: bool = False,
    chunk: bool = False,
    cluster: object = None,
    block_size: int | None = None,
) -> Any:
    """Near-duplicate pairs: each text's ``top_k`` most similar others scoring ``threshold``
    or more, every pair once (``i < j``), best first.

    sentence-transformers' ``paraphrase_mining_embeddings`` with a threshold: with
    ``threshold=-1`` the pairs (and scores, to float32 rounding) are the same as its.

    Args:
        data: texts (a list of str, a pandas Series, a DataFrame with ``column``), embedded
            with ``model`` through the cache as :func:`embed_nb.embed` does, or an
            :class:`Embeddings` or a float array of vectors (``(n, d)``, n >= 2).
        threshold: the least cosine similarity a pair needs, from -1 to 1 (0.9: near
            duplicates; lower it for paraphrases, -1 keeps every top-k pair).
        top_k: how many neighbours of each text are candidates (as in sentence-transformers).
        max_pairs: keep at most this many pairs, the best ones (None: all).
        model, cache, progress, column, truncate, chunk, cluster: as in :func:`embed_nb.embed`,
            for texts.
        block_size: rows compared against all columns at a time (None: as many as fit in
            :data:`BLOCK_BYTES` of scores). Only memory and speed depend on it.

    Returns:
        A DataFrame: ``i``, ``j`` (positions, ``i < j``), ``score``, and ``text_i``,
        ``text_j`` when the input had texts.

    Raises:
        InvalidInputError: a threshold outside [-1, 1], a ``top_k``, ``max_pairs`` or
            ``block_size`` below 1, fewer than 2 texts, NaN vectors, or a reranker.
    """
    low = checked_threshold(threshold)
    k = checked_positive(top_k, "top_k")
    cap = checked_positive(max_pairs, "max_pairs", optional=True)
    rows = checked_positive(block_size, "block_size", optional=True)
    assert k is not None
    unit, texts = _vectors(
        data,
        job="paraphrases",
        model=model,
        cache=cache,
        progress=progress,
        column=column,
        truncate=truncate,
        chunk=chunk,
        cluster=cluster,
    )
    pairs = _mine_pairs(unit, low, min(k, len(unit) - 1), cap, rows)
    return _pairs_frame(pairs, texts)


def _mine_pairs(
    unit: np.ndarray, threshold: float, k: int, cap: int | None, block_size: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, score)`` arrays, best first: each row's k best other rows at or above the
    threshold, one block of rows at a time, every pair once."""
    n = len(unit)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    held = 0
    for start, stop in _blocks(n, block_size):
        scores = unit[start:stop] @ unit.T
        local = np.arange(len(scores))
        scores[local, local + start] = -np.inf  # a text is not its own paraphrase
        keep = scores >= threshold
        crowded = np.flatnonzero(keep.sum(axis=1) > k)
        if len(crowded):
            # More candidates than k: keep the k best (all of them are above the threshold).
            best = np.argpartition(-scores[crowded], k - 1, axis=1)[:, :k]
            keep[crowded] = False
            keep[crowded[:, None], best] = True
        r, c = np.nonzero(keep)
        found.append((r + start, c, scores[r, c], r + start))
        held += len(r)
        if cap is not None and held > 2 * cap:  # memory stays near the cap, not n * k
            found = [_unique_best(found, n, cap)]
            held = len(found[0][0])
    return _unique_best(found, n, cap)[:3]


def _unique_best(
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n: int, cap: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each pair once, ``i < j``, with the score from the first row that found it (as
    sentence-transformers keeps), best first (then by i, j), at most ``cap``."""
    rows = np.concatenate([f[0] for f in found]).astype(np.int64)
    cols = np.concatenate([f[1] for f in found]).astype(np.int64)
    scores = np.concatenate([f[2] for f in found]).astype(np.float32)
    seen_from = np.concatenate([f[3] for f in found]).astype(np.int64)
    low, high = np.minimum(rows, cols), np.maximum(rows, cols)
    key = low * n + high
    order = np.lexsort((seen_from, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    chosen = order[first]
    chosen = chosen[np.lexsort((high[chosen], low[chosen], -scores[chosen]))][:cap]
    return low[chosen], high[chosen], scores[chosen], seen_from[chosen]


def _pairs_frame(pairs: tuple[np.ndarray, np.ndarray, np.ndarray], texts: list[str] | None) -> Any:
    import pandas as pd

    i, j, score = pairs
    frame = pd.DataFrame(
        {"i": i.astype(np.int64), "j": j.astype(np.int64), "score": score.astype(np.float64)}
    )
    if texts is not None:
        frame["text_i"] = [texts[x] for x in i.tolist()]
        frame["text_j"] = [texts[x] for x in j.tolist()]
    return frame


# --- communities ---------------------------------------------------------------------------


def communities(
    data: object,
    *,
    threshold: float = 0.75,
    min_size: int = 10,
    model: ModelArg = None,
    cache: CacheArg = True,
    progress: ProgressArg = None,
    column: str | None = None,
    truncate: bool = False,
    chunk: bool = False,
    cluster: object = None,
    block_size: int | None = None,
) -> Any:
    """Communities of texts close to a centre, largest first, each text in at most one.

    sentence-transformers' ``community_detection``: a text is a centre when at least
    ``min_size`` texts (itself included) have a cosine of ``threshold`` or more with it; its
    community is all of them. Centres are taken largest community first; a community keeps
    the members no earlier community took, and is dropped when fewer than ``min_size`` are
    left. Texts in no community are not listed.

    Args:
        data: texts, an :class:`Embeddings` or a float array of vectors, as in
            :func:`paraphrases`.
        threshold: the least cosine to the centre, from -1 to 1.
        min_size: the fewest members a community may have (1 or more).
        model, cache, progress, column, truncate, chunk, cluster: as in :func:`embed_nb.embed`.
        block_size: rows compared against all columns at a time, as in :func:`paraphrases`.

    Returns:
        A DataFrame, one row per member: ``community`` (0 is the largest), ``size``,
        ``index`` (position in the input), ``is_centre``, ``score`` (cosine to the centre),
        and ``text`` when the input had texts.

    Raises:
        InvalidInputError: a threshold outside [-1, 1], ``min_size`` or ``block_size`` below
            1, fewer than 2 texts, NaN vectors, or a reranker.
    """
    low = checked_threshold(threshold)
    smallest = checked_positive(min_size, "min_size")
    rows = checked_positive(block_size, "block_size", optional=True)
    assert smallest is not None
    unit, texts = _vectors(
        data,
        job="communities",
        model=model,
        cache=cache,
        progress=progress,
        column=column,
        truncate=truncate,
        chunk=chunk,
        cluster=cluster,
    )
    groups = _find_communities(unit, low, smallest, rows)
    return _members_frame(unit, groups, texts)


def _find_communities(
    unit: np.ndarray, threshold: float, min_size: int, block_size: int | None
) -> list[np.ndarray]:
    """Each community's positions, centre first, then by score; largest community first."""
    n = len(unit)
    candidates: list[tuple[int, np.ndarray]] = []
    for start, stop in _blocks(n, block_size):
        scores = unit[start:stop] @ unit.T
        close = scores >= threshold
        for r in np.flatnonzero(close.sum(axis=1) >= min_size):
            members = np.flatnonzero(close[r])
            # Best first, as torch.topk gives them; a tie keeps position order.
            members = members[np.argsort(-scores[r, members], kind="stable")]
            candidates.append((start + int(r), members.astype(np.int64)))
    candidates.sort(key=lambda item: len(item[1]), reverse=True)  # stable: centre order
    taken = np.zeros(n, dtype=bool)
    groups: list[np.ndarray] = []
    for centre, members in candidates:
        if taken[centre]:
            continue
        free = members[~taken[members]]
        if len(free) >= min_size:
            group = np.concatenate([[centre], free[free != centre]])
            groups.append(group)
            taken[group] = True
    groups.sort(key=len, reverse=True)
    return groups


def _members_frame(unit: np.ndarray, groups: list[np.ndarray], texts: list[str] | None) -> Any:
    import pandas as pd

    if groups:
        index = np.concatenate(groups)
        community = np.concatenate([np.full(len(g), c) for c, g in enumerate(groups)])
        size = np.concatenate([np.full(len(g), len(g)) for g in groups])
        centre = np.concatenate([np.arange(len(g)) == 0 for g in groups])
        score = np.concatenate([unit[g] @ unit[g[0]] for g in groups])
    else:
        index = community = size = np.zeros(0, np.int64)
        centre, score = np.zeros(0, bool), np.zeros(0, np.float32)
    frame = pd.DataFrame(
        {
            "community": community.astype(np.int64),
            "size": size.astype(np.int64),
            "index": index.astype(np.int64),
            "is_centre": centre.astype(bool),
            "score": score.astype(np.float64),
        }
    )
    if texts is not None:
        frame["text"] = [texts[x] for x in index.tolist()]
    return frame
