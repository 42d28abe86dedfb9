"""The vector maths, one copy: unit rows, cosine similarity and top-k, PCA and UMAP.

The API (:mod:`embed_nb.api`) and the widgets (:mod:`embed_nb.widgets`) both call these, so a
score, a ranking or a layout is the same whichever front end made it. Only numpy is imported
here; UMAP (umap-learn, numba) loads on first use, in :mod:`embed_nb.umap_fast`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "cosine_scores",
    "cosine_similarity",
    "cosine_top_k",
    "nearest_rows",
    "pca",
    "top_k",
    "umap_layout",
    "unit_rows",
    "unit_vector",
]

# Rows per block of a similarity product: a block of float64 products stays near this size.
_BLOCK_BYTES = 64 << 20


def unit_rows(matrix: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """Rows scaled to unit L2 length; zero rows stay zero (they have no direction).

    Args:
        matrix: ``(n, d)`` vectors.
        dtype: the result's float type (float32 for views, float64 for accurate scores).
    """
    data = np.asarray(matrix, dtype=dtype)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return (data / np.where(norms > 0, norms, 1.0)).astype(dtype, copy=False)


def unit_vector(vector: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """One ``(d,)`` vector scaled to unit length (a zero vector stays zero)."""
    return unit_rows(np.asarray(vector)[None, :], dtype)[0]


def cosine_similarity(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities, rows of ``a`` against rows of ``b`` (or of ``a``), float32 ``(n, m)``.

    The products are float64 for accuracy, one block of rows at a time, so the peak memory is
    the float32 result plus a block, not an ``n x m`` float64 matrix as well.
    """
    left = unit_rows(a, np.float64)
    right = left if b is None else unit_rows(b, np.float64)
    matrix = np.empty((len(left), len(right)), dtype=np.float32)
    step = max(1, _BLOCK_BYTES // (8 * max(len(right), 1)))
    for start in range(0, len(left), step):
        matrix[start : start + step] = left[start : start + step] @ right.T
    return matrix


def cosine_scores(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The cosine of each row of ``matrix`` with ``query``; zero rows (or query) score 0.

    Computed in the inputs' precision: pass float64 for scores users read.
    """
    norms = np.linalg.norm(matrix, axis=1)
    # Dividing the products (rather than normalising the corpus first) reads the matrix once.
    return (
        (matrix @ query) / np.where(norms == 0, 1, norms) / max(float(np.linalg.norm(query)), 1e-12)
    )


def top_k(scores: np.ndarray, k: int, *, exclude: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best scores, best first: ``(indices, scores)``.

    Ties keep index order, so the answer equals ``np.argsort(-scores, kind="stable")[:k]``,
    but a partition finds the candidates first: O(n) rather than a full sort.

    Args:
        scores: ``(n,)`` scores.
        k: how many (fewer when there are fewer scores).
        exclude: an index left out (a point's own score, among its neighbours), or -1.
    """
    scores = np.asarray(scores)
    if 0 <= exclude < len(scores):
        scores = scores.copy()
        scores[exclude] = -np.inf
    k = max(0, min(int(k), len(scores) - (1 if 0 <= exclude < len(scores) else 0)))
    if k == 0:
        return np.zeros(0, np.intp), scores[:0]
    negated = -scores
    candidates = np.arange(len(scores))
    if k < len(scores):
        kth = np.partition(negated, k - 1)[k - 1]
        if not np.isnan(kth):  # NaN sorts last: then every score is a candidate
            # Every score as good as the k-th: ties at the boundary resolve by index below.
            candidates = np.flatnonzero(negated <= kth)
    order = candidates[np.argsort(negated[candidates], kind="stable")][:k]
    return order, scores[order]


def cosine_top_k(
    matrix: np.ndarray, query: np.ndarray, k: int, *, exclude: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``matrix`` most cosine-similar to ``query``: ``(indices, scores)``."""
    return top_k(cosine_scores(matrix, query), k, exclude=exclude)


def nearest_rows(unit: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of every row by cosine (itself excluded), best first.

    Returns ``(ids, scores)``, both ``(n, k)``: uint32 and float32. Blocks of rows keep the
    memory at ``block * n`` floats.
    """
    n = len(unit)
    ids = np.zeros((n, k), np.uint32)
    scores = np.zeros((n, k), np.float32)
    for start in range(0, n, block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf  # not its own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        ids[start : start + block] = np.take_along_axis(top, order, axis=1)
        scores[start : start + block] = np.take_along_axis(best, order, axis=1)
    return ids, scores


def pca(matrix: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Principal-component coordinates and each component's share of the variance.

    The sign of each component is fixed (its largest loading is positive), so the same data
    always gives the same picture. With more points than dimensions the components come from
    the d x d covariance (cheap for a million points); otherwise from an SVD of the points.
    The work is in the input's precision (float32 for views, float64 for the API).

    Returns:
        ``(coords, explained)``: float32 ``(n, n_components)`` and ``(n_components,)``, padded
        with zeros where there are fewer components than asked for.
    """
    data = np.asarray(matrix)
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    centred = data - data.mean(axis=0, dtype=np.float64).astype(data.dtype)
    n, d = centred.shape
    if n > d:
        values, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
        variance = np.clip(values[::-1], 0.0, None)
        components = vectors[:, ::-1].T[:n_components]
    else:
        _, singular, components = np.linalg.svd(centred, full_matrices=False)
        variance = singular.astype(np.float64) ** 2
        components = components[:n_components]
    largest = np.abs(components).argmax(axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    coords = centred @ components.T.astype(centred.dtype)
    explained = variance[:n_components] / max(float(variance.sum()), 1e-30)
    if coords.shape[1] < n_components:  # fewer points than components
        coords = np.pad(coords, ((0, 0), (0, n_components - coords.shape[1])))
        explained = np.pad(explained, (0, n_components - len(explained)))
    return coords.astype(np.float32), explained.astype(np.float32)


def umap_layout(
    unit: np.ndarray,
    n_components: int = 2,
    *,
    random_state: int | None = None,
    progress: Callable[[str, float], None] | None = None,
    **options: Any,
) -> np.ndarray:
    """A UMAP of unit rows by cosine (:func:`embed_nb.umap_fast.fast_umap`), float32.

    The one UMAP of the package: ``embed_nb.project(method="umap")`` and the
    :class:`~embed_nb.widgets.ProjectionView` both call it on :func:`unit_rows` of their
    vectors, so the same vectors and ``random_state`` give the same layout.
    """
    from .umap_fast import fast_umap  # late: umap-learn and numba load on first use

    return fast_umap(
        unit, n_components=n_components, random_state=random_state, progress=progress, **options
    )
