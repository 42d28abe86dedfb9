"""A faster UMAP for text embeddings: exact kNN by matrix product, far fewer epochs.

umap-learn spends its time on the approximate nearest-neighbour search (NN-descent) and on
the layout: 500 epochs below 10,000 points, 200 above. Here:

* For unit-normalised embeddings the exact cosine kNN is one blocked BLAS product plus a
  numba top-k, faster than NN-descent and without its approximation error. It is handed to
  umap-learn as ``precomputed_knn``.
* The layout starts from PCA (cheap: a d x d eigenproblem) rather than a spectral embedding,
  whose ARPACK solve alone takes 0.5-3 s on 9,000 points here.
* ``min_dist=0.0`` (umap-learn's advice when neighbourhoods matter more than spacing) lets
  the layout settle its local structure in far fewer epochs: 60 above 5,000 points. On
  9,245 real texts that keeps trustworthiness within 0.01 of umap-learn's defaults at over
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

__all__ = ["DEFAULT_EPOCHS", "EXACT_KNN_LIMIT", "exact_knn", "fast_umap"]

# Epochs of the layout (umap-learn's defaults: 500 below 10,000 points, 200 above). Small
# inputs are cheap either way and get more.
DEFAULT_EPOCHS = 60
SMALL_INPUT_EPOCHS = 200
SMALL_INPUT = 5000
# Past this many points the exact kNN's n^2 work outgrows NN-descent; umap-learn's own search
# takes over.
EXACT_KNN_LIMIT = 60_000
# Rows per block of the kNN product: a block of scores is rows x n float32 (cache-sized).
_BLOCK_BYTES = 32 << 20

ProgressFn = Callable[[str, float], None]


def exact_knn(unit: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by cosine for unit rows: ``(indices, cosine distances)``.

    Blocks of rows are scored with one BLAS product each; a numba kernel then keeps each
    row's best k (a partial sort over n values is several times slower in numpy). Each row's
    own index comes first (distance 0), as umap-learn expects.
    """
    n = len(unit)
    k = min(k, n)
    unit = np.ascontiguousarray(unit, dtype=np.float32)
    indices = np.empty((n, k), dtype=np.int32)
    similarities = np.empty((n, k), dtype=np.float32)
    top_k = _top_k_kernel()
    block = max(1, min(n, _BLOCK_BYTES // max(1, 4 * n)))
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = unit[start:stop] @ unit.T
        top_k(scores, start, indices[start:stop], similarities[start:stop])
    distances = np.clip(1.0 - similarities, 0.0, 2.0)
    distances[:, 0] = 0.0
    return indices, distances


@functools.cache
def _top_k_kernel() -> Callable[..., None]:
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=True)
    def top_k(scores, offset, out_idx, out_val):
        rows, n = scores.shape
        k = out_idx.shape[1]
        for r in numba.prange(rows):
            vals = out_val[r]
            idx = out_idx[r]
            # The row's own point first, whatever rounding did to its score.
            vals[0] = np.inf
            idx[0] = r + offset
            for j in range(1, k):
                vals[j] = -np.inf
                idx[j] = -1
            for c in range(n):
                v = scores[r, c]
                if v <= vals[k - 1] or c == r + offset:
                    continue
                # Insert into the sorted (descending) buffer.
                j = k - 1
                while j > 1 and vals[j - 1] < v:
                    vals[j] = vals[j - 1]
                    idx[j] = idx[j - 1]
                    j -= 1
                vals[j] = v
                idx[j] = c
            vals[0] = 1.0

    return top_k


def _pca_init(unit: np.ndarray) -> np.ndarray:
    """The first two principal components, scaled the way umap-learn scales its inits."""
    centred = unit - unit.mean(axis=0)
    _, vecs = np.linalg.eigh((centred.T @ centred).astype(np.float64))
    layout = (centred @ vecs[:, ::-1][:, :2].astype(np.float32)).astype(np.float64)
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
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    n_epochs: int | None = None,
    init: str | np.ndarray = "pca",
    random_state: int | None = None,
    progress: ProgressFn | None = None,
    **umap_options: Any,
) -> np.ndarray:
    """A 2-D UMAP of embeddings (cosine), as float32 ``(n, 2)``.

    Args:
        vectors: ``(n, d)`` embeddings; they are unit-normalised here.
        n_neighbors, min_dist, random_state: as in :class:`umap.UMAP`.
        init: ``"pca"`` (default: the first two principal components, from the d x d
            covariance, so the UMAP starts from the PCA view the widget shows first), or
            anything :class:`umap.UMAP` takes. Spectral init spends 0.5-3 s in ARPACK here.
        n_epochs: layout epochs (None: 60, or 200 up to 5,000 points).
        progress: ``progress(stage, fraction)`` from the calling thread (kNN, graph, layout).
        **umap_options: passed to :class:`umap.UMAP`.
    """
    import umap

    report = progress or (lambda stage, fraction: None)
    data = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    unit = data / np.where(norms > 0, norms, 1.0)
    n = len(unit)
    if n < 4:
        return np.zeros((n, 2), dtype=np.float32)
    k = min(n_neighbors, n - 1)
    if n_epochs is None:
        n_epochs = SMALL_INPUT_EPOCHS if n <= SMALL_INPUT else DEFAULT_EPOCHS
    if isinstance(init, str) and init == "pca":
        init = _pca_init(unit)
    options: dict[str, Any] = dict(
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
    embedding = umap.UMAP(**options).fit_transform(unit)
    report("done", 1.0)
    return np.asarray(embedding, dtype=np.float32)
