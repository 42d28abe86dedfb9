"""SimilarityMatrix: a canvas heatmap of cosine similarities, ordered so that blocks show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import traitlets

from ..arguments import checked_labels
from ..errors import InvalidInputError
from ..vectors import cosine_similarity, unit_rows
from ._base import WidgetBase, binary, clip_text
from ._inputs import bounded_int, label_codes, vectors_and_texts
from ._static import category_palette, hex_to_rgb, png_base64, viridis

__all__ = ["SimilarityMatrix", "cluster_order", "similarity_payload"]

# Past this many texts the matrix shows a random sample (2,000² cells is 4 MB as uint8).
DEFAULT_MAX_SIZE = 2000
# Up to this many rows the axes carry text labels (past it a label would be under 9 px tall:
# the hover tooltip names the rows instead) and the exact scores travel as float32.
AXIS_LABEL_MAX_ROWS = 60
# Up to this many rows each cell shows its value (the view decides; the kernel only says so).
CELL_VALUE_MAX_ROWS = 15
# The longest axis label sent; the view cuts it further with an ellipsis to fit.
AXIS_LABEL_CHARS = 48
# How many most-similar texts the list beside the matrix shows for a chosen row.
SIMILAR_COUNT = 5


def cluster_order(vectors: np.ndarray) -> np.ndarray:
    """Leaf order of an average-linkage clustering on cosine distance (similar rows adjacent)."""
    if len(vectors) < 3:
        return np.arange(len(vectors))
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors.astype(np.float64), metric="cosine"), 0.0, None)
    distances = np.nan_to_num(distances, nan=1.0)  # zero vectors have no direction
    return leaves_list(linkage(distances, method="average"))


def similarity_payload(
    vectors: np.ndarray,
    *,
    order: Literal["cluster", "input"] = "cluster",
    max_size: int = DEFAULT_MAX_SIZE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(shown indices, float32 scores, uint8 quantised scores)`` for a matrix view.

    ``shown`` maps each displayed row to its input index: a random sample (in input order) when
    there are more than ``max_size`` inputs, reordered by clustering when ``order="cluster"``.
    """
    n = len(vectors)
    shown = np.arange(n)
    if n > max_size:
        shown = np.sort(np.random.default_rng(seed).choice(n, size=max_size, replace=False))
    unit = unit_rows(vectors[shown])
    if order == "cluster":
        permutation = cluster_order(unit)
        shown, unit = shown[permutation], unit[permutation]
    scores = cosine_similarity(unit)
    return shown, scores, quantise(scores, *value_range(scores))


def value_range(scores: np.ndarray) -> tuple[float, float]:
    """The colour range: min and max off the diagonal (the diagonal is 1 and would flatten it)."""
    if len(scores) < 2:
        return -1.0, 1.0
    off = scores[~np.eye(len(scores), dtype=bool)]
    low, high = float(off.min()), float(off.max())
    return (low, high) if high > low else (low - 1e-6, low + 1e-6)


def quantise(scores: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    scaled = (scores - vmin) * (255.0 / (vmax - vmin))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class SimilarityMatrix(WidgetBase):
    """Pairwise cosine similarity as a heatmap, with hover, pin and a colour legend.

    Args:
        data: an :class:`~embed_nb.Embeddings`, an ``(n, d)`` array, or a list of texts (embedded
            with ``model``).
        texts: one text per row when ``data`` is an array (or to override the result's texts).
        labels: one label per row: drawn as a colour band along the rows, and as the axis
            labels (in place of the texts) up to 60 rows.
        order: ``"cluster"`` (average-linkage leaf order, so block structure shows) or ``"input"``.
        model: how to embed texts: a model, a callable, a registry name or None (current).
        max_size: above this many rows, a random sample of this size is shown (the view says so).
        threshold: cells below this similarity are greyed out (a slider in the view; -1 shows
            every cell).

    In Python, :attr:`pinned` is the pinned ``(row, column)`` pair in input indices (or None),
    :attr:`scores` the full float32 matrix of shown rows, :attr:`shown` their input indices,
    :attr:`threshold` the slider's value and :attr:`focused` the row whose most similar texts
    are listed (:meth:`focus` sets it, :meth:`most_similar` computes the list).
    """

    _bundle = "similarity.js"

    size = traitlets.Int(0).tag(sync=True)
    n_total = traitlets.Int(0).tag(sync=True)
    values = traitlets.Any(None).tag(**binary("uint8"))
    palette = traitlets.Any(None).tag(**binary("uint8"))
    vmin = traitlets.Float(-1.0).tag(sync=True)
    vmax = traitlets.Float(1.0).tag(sync=True)
    row_labels = traitlets.Any(None).tag(**binary("uint8"))
    label_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    label_colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    order = traitlets.Unicode("cluster").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    # The pinned cell as display positions [row, col]; [] when nothing is pinned.
    pinned_cell = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    # The cell under the mouse, display positions; the front end sets it.
    hovered_cell = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    # Axis labels (clipped text, or the given labels) per display row; [] past 60 rows.
    axis_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Exact float32 scores for the cell values and the threshold, only while labels show.
    exact = traitlets.Any(None).tag(**binary("float32"))
    # Cells below this similarity are greyed out; -1 shows them all.
    threshold = traitlets.Float(-1.0).tag(sync=True)
    # The display row whose most similar texts are listed beside the matrix; -1 for none.
    focused_row = traitlets.Int(-1).tag(sync=True)

    def __init__(
        self,
        data: Any,
        texts: Sequence[str] | None = None,
        *,
        labels: Sequence[Any] | None = None,
        order: Literal["cluster", "input"] = "cluster",
        model: Any = None,
        max_size: int = DEFAULT_MAX_SIZE,
        threshold: float = -1.0,
        **kwargs: Any,
    ) -> None:
        if order not in ("cluster", "input"):
            raise InvalidInputError(f"order must be 'cluster' or 'input', not {order!r}")
        # The matrix is built in full (float32 scores plus the uint8 picture): keep it within
        # the budget every similarity matrix has.
        from ..api import SIMILARITY_MAX_BYTES

        max_size = bounded_int(max_size, "max_size", 2, math.isqrt(SIMILARITY_MAX_BYTES // 5))
        threshold = checked_threshold(threshold)
        vectors, found = vectors_and_texts(data, texts, model)
        n = len(vectors)
        codes, names = label_codes(labels, n)
        given = None if labels is None else checked_labels(labels, n)
        shown, scores, quantised = similarity_payload(vectors, order=order, max_size=max_size)
        vmin, vmax = value_range(scores)
        note = ""
        if len(shown) < n:
            note = f"showing a random sample of {len(shown):,} of {n:,} texts"
        super().__init__(**kwargs)
        self._texts = found if found is not None else [f"#{i}" for i in range(n)]
        self.shown = shown
        self.scores = scores
        self._codes = codes
        row_labels = None
        if codes is not None:
            # 255 is "no colour"; more than 254 labels share colours
            row_labels = np.minimum(codes[shown], 254).astype(np.uint8)
        with self.hold_sync():
            self.size = len(shown)
            self.n_total = n
            self.values = quantised
            self.palette = viridis()
            self.vmin, self.vmax = vmin, vmax
            self.row_labels = row_labels
            self.label_names = names
            self.label_colors = category_palette(len(names))
            self.order = order
            self.note = note
            if len(shown) <= AXIS_LABEL_MAX_ROWS:
                names_of = given if given is not None else self._texts
                self.axis_labels = [axis_label(names_of[int(i)]) for i in shown]
                self.exact = scores
            self.threshold = threshold
        self._handlers["cell"] = self._on_cell
        self._handlers["similar"] = self._on_similar

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal: Any) -> float:
        return checked_threshold(proposal["value"])

    @traitlets.validate("focused_row")
    def _valid_focused_row(self, proposal: Any) -> int:
        row = int(proposal["value"])
        if not -1 <= row < self.size:
            raise InvalidInputError(f"focused_row must be -1 or a shown row below {self.size}")
        return row

    # --- Python side -------------------------------------------------------------------

    @property
    def pinned(self) -> tuple[int, int] | None:
        """The pinned cell as ``(row, column)`` input indices, or None."""
        if len(self.pinned_cell) != 2:
            return None
        row, col = self.pinned_cell
        return int(self.shown[row]), int(self.shown[col])

    def pin(self, row: int, col: int) -> None:
        """Pin the cell of input indices ``row`` and ``col`` (both must be shown)."""
        where = {int(v): k for k, v in enumerate(self.shown)}
        if row not in where or col not in where:
            raise InvalidInputError("that pair is not shown (the matrix shows a sample)")
        self.pinned_cell = [where[row], where[col]]

    def score(self, row: int, col: int) -> float:
        """The exact similarity of two shown inputs (input indices)."""
        where = {int(v): k for k, v in enumerate(self.shown)}
        return float(self.scores[where[row], where[col]])

    @property
    def focused(self) -> int | None:
        """The input index of the row whose most similar texts are listed, or None."""
        return None if self.focused_row < 0 else int(self.shown[self.focused_row])

    def focus(self, index: int | None) -> None:
        """List the most similar texts of input ``index`` beside the matrix (None clears)."""
        if index is None:
            self.focused_row = -1
            return
        self.focused_row = self._position(index)

    def most_similar(self, index: int, k: int = SIMILAR_COUNT) -> list[tuple[int, float]]:
        """The ``k`` shown inputs most similar to input ``index``: ``(input index, score)``,
        best first, ``index`` itself left out."""
        k = min(bounded_int(k, "k", 1, 2**31 - 1), self.size - 1)
        return [(int(self.shown[c]), s) for c, s in self._similar_rows(self._position(index), k)]

    def _position(self, index: int) -> int:
        where = {int(v): k for k, v in enumerate(self.shown)}
        if index not in where:
            raise InvalidInputError(f"input {index} is not shown (the matrix shows a sample)")
        return where[index]

    def _similar_rows(self, row: int, k: int) -> list[tuple[int, float]]:
        scores = self.scores[row].astype(np.float64)
        scores[row] = -np.inf  # a text is always most similar to itself: leave it out
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(c), float(scores[c])) for c in best]

    def _on_similar(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        row = int(content["row"])
        if not 0 <= row < self.size:
            raise InvalidInputError("row out of range")
        items = [
            {
                "row": col,
                "i": int(self.shown[col]),
                "score": score,
                "text": clip_text(self._texts[int(self.shown[col])]),
            }
            for col, score in self._similar_rows(row, min(SIMILAR_COUNT, self.size - 1))
        ]
        i = int(self.shown[row])
        return {"row": row, "i": i, "text": clip_text(self._texts[i]), "items": items}, []

    def _on_cell(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        row, col = int(content["row"]), int(content["col"])
        if not (0 <= row < self.size and 0 <= col < self.size):
            raise InvalidInputError("cell out of range")
        i, j = int(self.shown[row]), int(self.shown[col])
        reply = {
            "row": row,
            "col": col,
            "i": i,
            "j": j,
            "score": float(self.scores[row, col]),
            "texts": [clip_text(self._texts[i]), clip_text(self._texts[j])],
        }
        return reply, []

    # --- static picture ----------------------------------------------------------------

    def _offline_data(self) -> dict[str, Any]:  # what to_html's page answers (html_export)
        from ._offline import similarity_offline

        return similarity_offline(self)

    def to_image(self, max_pixels: int = 480) -> np.ndarray:
        """The heatmap as an ``(h, w, 3)`` uint8 image (for export and docs)."""
        step = max(1, int(np.ceil(self.size / max_pixels)))
        codes = np.asarray(self.values, dtype=np.uint8).reshape(self.size, self.size)
        codes = codes[::step, ::step]
        scale = max(1, max_pixels // max(1, codes.shape[0]))
        image = viridis()[codes]
        if self.threshold > -1.0:
            below = np.asarray(self.scores)[::step, ::step] < self.threshold
            image[below] = BELOW_THRESHOLD_RGB
        if scale > 1:
            image = image.repeat(scale, axis=0).repeat(scale, axis=1)
        if self.row_labels is not None:
            colors = np.array([hex_to_rgb(c) for c in self.label_colors] or [(0, 0, 0)], np.uint8)
            band = colors[np.minimum(self.row_labels[::step], len(colors) - 1)]
            band = band.repeat(scale, axis=0)[:, None, :].repeat(6, axis=1)
            image = np.concatenate([band, image], axis=1)
        return np.ascontiguousarray(image)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        return _with_png(bundle, self.to_image())


# The colour of a cell below the threshold (the view uses the same grey).
BELOW_THRESHOLD_RGB = (224, 224, 224)


def checked_threshold(value: Any) -> float:
    """A threshold in [-1, 1] (cosine similarity), or a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidInputError(f"threshold must be a number in [-1, 1], not {value!r}")
    number = float(value)
    if not -1.0 <= number <= 1.0:  # NaN fails this too
        raise InvalidInputError(
            f"threshold must be in [-1, 1] (a cosine similarity), not {value!r}"
        )
    return number


def axis_label(value: Any) -> str:
    """One line of at most AXIS_LABEL_CHARS characters (the view shows it as text)."""
    text = " ".join(str(value).split())
    return text if len(text) <= AXIS_LABEL_CHARS else text[: AXIS_LABEL_CHARS - 1] + "…"


def _with_png(bundle: Any, image: np.ndarray) -> Any:
    """Add a PNG snapshot to an anywidget MIME bundle ``(data, metadata)``."""
    if not bundle:
        return bundle
    data, metadata = bundle
    data = dict(data)
    data["image/png"] = png_base64(image)
    return data, metadata
