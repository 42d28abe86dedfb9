"""A faster UMAP for text embeddings: exact kNN by matrix product, far fewer epochs.

umap-learn spends its time on the approximate nearest-neighbour search (NN-descent) and on
the layout: 500 epochs below 10,000 points, 200 above. Here:

* For unit-normalised embeddings the exact cosine kNN is a blocked BLAS product over each
  pair of points once, plus a numba top-k, faster than NN-descent and without its
  approximation error. It is handed to umap-learn as ``precomputed_knn``.
* The layout starts from PCA (cheap: a d x d eigenproblem) rather than a spectral embedding,
  whose ARPACK solve alone takes 0.5-3 s on 9,000 points here.
* ``min_dist=0.0`` (umap-learn's advice when neighbourhoods matter more than spacing) lets
  the layout settle its local structure in far fewer epochs: 70 above 5,000 points.
* 10 neighbours rather than 15: a third fewer graph edges for every epoch to move, and on
  these texts a slightly *higher* trustworthiness at equal epochs (measured: 0.9240 against
  0.9227 at 60 epochs, 9,245 texts).

On 9,245 real texts that keeps trustworthiness within 0.01 of umap-learn's defaults at over
5x the speed (``bench/umap.py`` measures both in one run).

numba compiles umap-learn's kernels on first use; umap-learn caches most of them on disk
(``cache=True``), so a later kernel skips the JIT.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .vectors import pca, unit_rows

__all__ = ["DEFAULT_EPOCHS", "EXACT_KNN_LIMIT", "exact_knn", "fast_umap"]

# Epochs of the layout (umap-learn's defaults: 500 below 10,000 points, 200 above). Small
# inputs are cheap either way and get more.
DEFAULT_EPOCHS = 70
SMALL_INPUT_EPOCHS = 200
SMALL_INPUT = 5000
# Past this many points the exact kNN's n^2 work outgrows NN-descent; umap-learn's own search
# takes over.
EXACT_KNN_LIMIT = 60_000
# Rows per block of the kNN product: a block of scores is rows x n float32 (cache-sized).
_BLOCK_BYTES = 32 << 20

ProgressFn = Callable[[str, float], None]


def exact_knn(
    unit: np.ndarray, k: int, *, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by cosine for unit rows: ``(indices, cosine distances)``.

    Each pair of points is scored once: a block of rows is multiplied (one BLAS product)
    with itself and every later row, and the scores serve both sides, the block's rows and,
    transposed, the later rows. That halves the product, which dominates. A numba kernel
    merges each block into every row's running best k (a partial sort over n values is
    several times slower in numpy). Each row's own index comes first (distance 0), as
    umap-learn expects.
    """
    n = len(unit)
    k = min(k, n)
    unit = np.ascontiguousarray(unit, dtype=np.float32)
    # The best k - 1 others of each row, descending; the row itself is put in front at the end.
    best_idx = np.full((n, k - 1), -1, dtype=np.int32)
    best_sim = np.full((n, k - 1), -np.inf, dtype=np.float32)
    merge_rows, merge_columns = _merge_kernels()
    block = block_rows or max(1, min(n, _BLOCK_BYTES // max(1, 4 * n)))
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = unit[start:stop] @ unit[start:].T  # this block's rows x columns start..n
        merge_rows(scores, start, start, best_idx, best_sim)
        # The later rows, against this block's columns: the same scores, read transposed.
        merge_columns(scores[:, stop - start :], stop, start, best_idx, best_sim)
    indices = np.empty((n, k), dtype=np.int32)
    indices[:, 0] = np.arange(n, dtype=np.int32)
    indices[:, 1:] = best_idx
    distances = np.zeros((n, k), dtype=np.float32)
    distances[:, 1:] = np.clip(1.0 - best_sim, 0.0, 2.0)
    return indices, distances


@functools.cache
def _merge_kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """Two numba kernels that merge a block of scores into rows' running best ``k``.

    ``merge_rows``: ``scores[r, c]`` scores point ``row_offset + r`` against point
    ``col_offset + c``, for row ``row_offset + r``. ``merge_columns`` takes the same layout
    for the transposed side: it updates point ``row_offset + c`` with candidate
    ``col_offset + r``, walking the scores in column tiles, so that reads stay contiguous
    and each thread owns the rows it writes.
    """
    import numba

    # Rows are indexed in place, never sliced: a slice per score costs more than the compare.
    @numba.njit(inline="always", fastmath=True)
    def insert(best_sim, best_idx, row, v, candidate):
        j = best_sim.shape[1] - 1
        while j > 0 and best_sim[row, j - 1] < v:
            best_sim[row, j] = best_sim[row, j - 1]
            best_idx[row, j] = best_idx[row, j - 1]
            j -= 1
        best_sim[row, j] = v
        best_idx[row, j] = candidate

    @numba.njit(parallel=True, cache=True, fastmath=True)
    def merge_rows(scores, row_offset, col_offset, best_idx, best_sim):
        rows, cols = scores.shape
        k = best_idx.shape[1]
        if k == 0:
            return
        for r in numba.prange(rows):
            row = r + row_offset
            for c in range(cols):
                v = scores[r, c]
                if v > best_sim[row, k - 1] and c + col_offset != row:
                    insert(best_sim, best_idx, row, v, c + col_offset)

    @numba.njit(parallel=True, cache=True, fastmath=True)
    def merge_columns(scores, row_offset, col_offset, best_idx, best_sim):
        rows, cols = scores.shape
        k = best_idx.shape[1]
        if k == 0 or cols == 0:
            return
        tile = 64
        for t in numba.prange((cols + tile - 1) // tile):
            first, last = t * tile, min(t * tile + tile, cols)
            # The tile's thresholds (each row's k-th best so far), kept side by side.
            floor = np.empty(last - first, dtype=best_sim.dtype)
            for c in range(first, last):
                floor[c - first] = best_sim[row_offset + c, k - 1]
            for r in range(rows):
                for c in range(first, last):
                    v = scores[r, c]
                    if v > floor[c - first]:
                        insert(best_sim, best_idx, row_offset + c, v, r + col_offset)
                        floor[c - first] = best_sim[row_offset + c, k - 1]

    return merge_rows, merge_columns


def _pca_init(unit: np.ndarray, n_components: int) -> np.ndarray:
    """The first principal components, scaled the way umap-learn scales its inits."""
    layout = pca(unit, n_components)[0].astype(np.float64)
    return 10.0 * layout / (np.abs(layout).max() or 1.0)


_patch_lock = threading.Lock()
_patched = False


def _install_progress_hook() -> None:
    """Let umap-learn report epochs through its ``tqdm_kwds``.

    umap-learn wraps its epoch loop in ``tqdm(range(n_epochs), **tqdm_kwds)``. The wrapper
    installed here passes through to tqdm unless the keywords carry ``embed_nb_progress``,
    in which case it calls that function after each epoch instead of drawing a bar.
    """
    global _patched
    with _patch_lock:
        if _patched:
            return
        from umap import layouts

        original = layouts.tqdm

        def tqdm(iterable: Any, *args: Any, **kwargs: Any) -> Any:
            report = kwargs.pop("embed_nb_progress", None)
            if report is None:
                return original(iterable, *args, **kwargs)
            return _reporting(iterable, report)

        layouts.tqdm = tqdm
        _patched = True


def _reporting(iterable: Any, report: Callable[[int, int], None]) -> Iterator[Any]:
    items = list(iterable)
    total = len(items)
    for done, item in enumerate(items):
        yield item
        if done % 5 == 0 or done == total - 1:
            report(done + 1, total)


def fast_umap(
    vectors: np.ndarray,
    *,
    n_components: int = 2,
    n_neighbors: int = 10,
    min_dist: float = 0.0,
    n_epochs: int | None = None,
    init: str | np.ndarray = "pca",
    random_state: int | None = None,
    progress: ProgressFn | None = None,
    **umap_options: Any,
) -> np.ndarray:
    """A UMAP of embeddings (cosine), as float32 ``(n, n_components)``.

    Args:
        vectors: ``(n, d)`` embeddings; they are unit-normalised here.
        n_components: dimensions of the layout (2 for a map).
        n_neighbors, min_dist, random_state: as in :class:`umap.UMAP`.
        init: ``"pca"`` (default: the first principal components, from the d x d
            covariance, so the UMAP starts from the PCA view the widget shows first), or
            anything :class:`umap.UMAP` takes. Spectral init spends 0.5-3 s in ARPACK here.
        n_epochs: layout epochs (None: 70, or 200 up to 5,000 points).
        progress: ``progress(stage, fraction)`` from the calling thread (kNN, graph, layout).
        **umap_options: passed to :class:`umap.UMAP`.
    """
    import umap

    report = progress or (lambda stage, fraction: None)
    unit = unit_rows(vectors)
    n = len(unit)
    if n < 4:
        return np.zeros((n, n_components), dtype=np.float32)
    k = min(n_neighbors, n - 1)
    if n_epochs is None:
        n_epochs = SMALL_INPUT_EPOCHS if n <= SMALL_INPUT else DEFAULT_EPOCHS
    if isinstance(init, str) and init == "pca":
        init = _pca_init(unit, n_components)
    options: dict[str, Any] = dict(
        n_components=n_components,
        n_neighbors=k,
        min_dist=min_dist,
        metric="cosine",
        n_epochs=n_epochs,
        init=init,
        random_state=random_state,
        **umap_options,
    )
    if n <= EXACT_KNN_LIMIT:
        report("nearest neighbours", 0.0)
        indices, distances = exact_knn(unit, k)
        options["precomputed_knn"] = (indices, distances, None)
        # umap-learn computes small inputs' distances itself unless told not to.
        options["force_approximation_algorithm"] = True
    report("graph", 0.1)
    _install_progress_hook()
    options["tqdm_kwds"] = {
        "disable": False,
        "embed_nb_progress": lambda done, total: report("layout", 0.2 + 0.8 * done / total),
    }
    # "knn_search_index is not an NNDescent object": transform() is not offered, so that is
    # fine. A filter, not catch_warnings(), which is not thread-safe (this runs in a thread).
    warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
    # A seed makes umap-learn single-threaded and say so each time; asking for one is the
    # user's choice of reproducible layouts, so the notice is noise.
    warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
    embedding = umap.UMAP(**options).fit_transform(unit)
    report("done", 1.0)
    return np.asarray(embedding, dtype=np.float32)
