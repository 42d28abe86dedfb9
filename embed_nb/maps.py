"""2-D maps of vectors: :func:`project` (PCA or the widgets' fast cosine UMAP)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .arguments import CacheArg, bounded_int, checked_labels, embedded_vectors
from .engine.protocol import ModelArg
from .errors import InvalidInputError
from .results import Projection
from .vectors import pca, umap_layout, unit_rows

__all__ = ["PROJECTION_METHODS", "project"]

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
    cluster: object = None,
) -> Projection:
    """2-D coordinates of vectors: ``"pca"`` (numpy, instant) or ``"umap"`` (needs
    ``umap-learn``). ``embeddings`` is an :class:`Embeddings`, an array, or texts to embed.

    Both come from :mod:`embed_nb.vectors`, as in the widgets: UMAP is the fast cosine UMAP of
    :class:`~embed_nb.widgets.ProjectionView`, so the same vectors and ``random_state`` give
    the layout that view shows (before it scales the layout to fit its canvas).

    ``n_components`` is an integer from 2 to the vectors' dimension; ``labels`` one label per
    point. ``np.asarray(result)`` gives the ``(n, n_components)`` coordinates. ``cluster``
    embeds texts on a Dask cluster, as in :func:`~embed_nb.api.embed`.

    Raises:
        InvalidInputError: NaN or infinite vectors, fewer than 2 points, a reranker, an
            unknown method, or ``n_components``, ``random_state`` or ``labels`` out of range.
    """
    if not isinstance(method, str) or method.lower() not in PROJECTION_METHODS:
        raise InvalidInputError(f"unknown projection method {method!r}; use 'pca' or 'umap'")
    method = method.lower()
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise InvalidInputError(f"n_components must be an integer, not {n_components!r}")
    random_state = bounded_int(random_state, "random_state", 0, 2**32 - 1)
    matrix, default_labels, model_name = embedded_vectors(
        embeddings, model, "embeddings", "a map", cache, cluster=cluster
    )
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
