"""CompareView: two embeddings of the same items side by side, their points linked.

Two models, two poolings, or one corpus before and after a change: each side is a 2-D layout
of its own vectors, the second turned (an orthogonal Procrustes fit) to lie as close to the
first as it can, so that a point sits in about the same place on both sides. Each point is
coloured by how many of its ``k`` nearest neighbours the two embeddings share (cosine, itself
left out); the mean of that is the headline number. Hovering a point marks it on both sides,
and a lasso on either side selects the same points on both.

What crosses the comm per point: two layouts as float32 (16 bytes) and the overlap as uint8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import traitlets

from ..errors import InvalidInputError
from ..vectors import nearest_rows, pca, umap_layout, unit_rows
from ._base import IndexArray, WidgetBase, binary
from ._inputs import bounded_int, vectors_and_texts
from .projection import normalise_layout

__all__ = ["CompareView", "nearest_neighbours", "neighbour_overlap"]

#: The neighbour overlap costs about n² d multiply-adds per side: past this it takes minutes.
MAX_COMPARE_POINTS = 50_000
MAX_K = 100
# Rows of similarities computed at once: 2,048 x 50,000 float32 is 400 MB at the most.
_BLOCK = 2048


def nearest_neighbours(unit: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)``: each row's ``k`` most cosine-similar rows (itself left out), best first."""
    return nearest_rows(unit, k, block=_BLOCK)[0]


def neighbour_overlap(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """For each row, how many of its ``k`` nearest neighbours in ``a`` are among its ``k``
    nearest in ``b`` (unit rows, the same items in the same order): uint8 in 0..k."""
    near_a, near_b = nearest_neighbours(a, k), nearest_neighbours(b, k)
    counts = np.empty(len(a), dtype=np.uint8)
    for start in range(0, len(a), _BLOCK):  # (block, k, k) comparisons at a time
        block_a, block_b = near_a[start : start + _BLOCK], near_b[start : start + _BLOCK]
        shared = (block_a[:, :, None] == block_b[:, None, :]).any(axis=2)
        counts[start : start + _BLOCK] = shared.sum(axis=1)
    return counts


def _layout(unit: np.ndarray, method: str) -> np.ndarray:
    if method == "umap":
        return umap_layout(unit, random_state=42)
    return pca(unit, 2)[0]


def _aligned(layout: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``layout`` turned (rotation or reflection) and scaled to lie closest to ``reference``:
    orthogonal Procrustes on the centred points."""
    moving = layout - layout.mean(axis=0)
    fixed = reference - reference.mean(axis=0)
    u, _, vt = np.linalg.svd(moving.T.astype(np.float64) @ fixed.astype(np.float64))
    return (moving @ (u @ vt)).astype(np.float32)


def _to_view(layout: np.ndarray) -> np.ndarray:
    """Scaled as ProjectionView scales its layouts, as x[0..n) then y[0..n)."""
    return np.ascontiguousarray(normalise_layout(layout).T).ravel()


class CompareView(WidgetBase):
    """Two embeddings of the same items, side by side, with linked hover and lasso.

    Args:
        a, b: the two embeddings: :class:`~embed_nb.Embeddings`, ``(n, d)`` arrays (the two
            may differ in ``d``), or lists of texts (embedded with ``model_a``/``model_b``).
            The same ``n`` items in the same order.
        texts: one text per item (default: ``a``'s texts, else ``b``'s).
        k: neighbours compared per point (1..100).
        names: the two sides' titles (default: the models' names, else "A" and "B").
        layout: ``"pca"`` (at once) or ``"umap"`` (seconds to minutes for large n).
        model_a, model_b: what embeds ``a`` and ``b`` when they are texts.

    Python sees :attr:`overlap` (shared neighbours per point), :attr:`mean_overlap`, and
    :attr:`selected` (indices; set it to select points on both sides).
    """

    _bundle = "compare.js"

    n_points = traitlets.Int(0).tag(sync=True)
    positions_a = traitlets.Any(None).tag(**binary("float32"))  # x[0..n) then y[0..n)
    positions_b = traitlets.Any(None).tag(**binary("float32"))
    overlap_codes = traitlets.Any(None).tag(**binary("uint8"))
    k = traitlets.Int(10).tag(sync=True)
    mean_overlap = traitlets.Float(0.0).tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = IndexArray().tag(**binary("uint32"))

    def __init__(
        self,
        a: Any,
        b: Any,
        texts: Sequence[str] | None = None,
        *,
        k: int = 10,
        names: Sequence[str] | None = None,
        layout: Literal["pca", "umap"] = "pca",
        model_a: Any = None,
        model_b: Any = None,
        **kwargs: Any,
    ) -> None:
        k = bounded_int(k, "k", 1, MAX_K)
        if layout not in ("pca", "umap"):
            raise InvalidInputError(f"layout must be 'pca' or 'umap', not {layout!r}")
        vectors_a, texts_a = vectors_and_texts(a, texts, model_a)
        vectors_b, texts_b = vectors_and_texts(b, texts, model_b)
        n = len(vectors_a)
        if len(vectors_b) != n:
            raise InvalidInputError(
                f"a has {n:,} items and b has {len(vectors_b):,}: compare the same items, in "
                "the same order"
            )
        if n < 2:
            raise InvalidInputError("compare at least 2 items")
        if n > MAX_COMPARE_POINTS:
            raise InvalidInputError(
                f"{n:,} items is more than CompareView's {MAX_COMPARE_POINTS:,}: the neighbour "
                "overlap costs n² per side; compare a sample, e.g. the same rows of both"
            )
        if k >= n:
            raise InvalidInputError(f"k={k} needs more than {k} items; there are {n}")
        unit_a, unit_b = unit_rows(vectors_a), unit_rows(vectors_b)
        self._overlap = neighbour_overlap(unit_a, unit_b, k)
        layout_a = _layout(unit_a, layout)
        layout_b = _aligned(_layout(unit_b, layout), layout_a)
        super().__init__(**kwargs)
        self._texts = texts_a or texts_b or [f"#{i}" for i in range(n)]
        with self.hold_sync():
            self.n_points = n
            self.k = k
            self.names = _names(names, a, b)
            self.positions_a = _to_view(layout_a)
            self.positions_b = _to_view(layout_b)
            self.overlap_codes = self._overlap
            self.mean_overlap = float(self._overlap.mean())

    @property
    def overlap(self) -> np.ndarray:
        """Per item: how many of its ``k`` nearest neighbours both embeddings share."""
        return self._overlap.copy()

    @property
    def texts(self) -> list[str]:
        return list(self._texts)

    @property
    def selected_texts(self) -> list[str]:
        """The texts of the selected items, in index order."""
        return [self._texts[i] for i in np.asarray(self.selected)]


def _names(names: Sequence[str] | None, a: Any, b: Any) -> list[str]:
    if names is not None:
        if isinstance(names, str) or len(names) != 2 or not all(isinstance(x, str) for x in names):
            raise InvalidInputError("names must be two str, one per side, e.g. ('MiniLM', 'BGE')")
        return [str(x) for x in names]
    found = [getattr(a, "model", None), getattr(b, "model", None)]
    if all(isinstance(x, str) and x for x in found) and found[0] != found[1]:
        return [str(x) for x in found]
    return ["A", "B"]
