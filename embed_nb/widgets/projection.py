"""ProjectionView: embeddings in 2-D (PCA at once, UMAP when ready), in WebGL.

What crosses the comm per point: x and y as float32 (8 bytes) and a colour category as uint8
(1 byte), 9 bytes in all, as binary buffers; a numeric ``color_by`` column is quantised in the
kernel to that same byte, and ``size_by`` adds one more (10 bytes). Labels on the map are one
small JSON record per category, not per point. Texts stay in the kernel; the view asks for the
few it shows. Neighbours and query results are computed in the kernel, on the full vectors.
Points that are images get thumbnails made in the kernel and sent as binary on demand
(:mod:`embed_nb.widgets._thumbnails`); one uint8 per point says which points have one.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import traitlets

from ..errors import InvalidInputError
from ..vectors import pca, top_k, umap_layout, unit_rows, unit_vector
from ._base import IndexArray, WidgetBase, binary, clip_text
from ._clusters import cluster_codes, cluster_keywords, compact_categories
from ._columns import (
    ColumnCoding,
    code_column,
    code_sizes,
    column_values,
    filter_mask,
    frame_columns,
)
from ._contours import contour_segments
from ._inputs import (
    bounded_int,
    embed_texts,
    fingerprint,
    label_codes,
    vectors_and_texts,
)
from ._labels import check_custom_labels, label_anchors
from ._selection import SelectionTable
from ._static import hex_to_rgb, png_base64, viridis
from ._thumbnails import ThumbnailSource

__all__ = ["ProjectionView", "cluster_keywords", "pca_2d"]

# Bounds of the options: more clusters than this cannot be told apart (and KMeans slows).
MAX_CLUSTERS = 256
MAX_K = 1000
COLOR_MODES = ("label", "kmeans", "hdbscan", "none")
# Layouts computed in this process, by embeddings fingerprint and options.
_UMAP_CACHE: dict[str, np.ndarray] = {}
_UMAP_LOCK = threading.Lock()


def pca_2d(unit: np.ndarray) -> np.ndarray:
    """The first two principal components (:func:`embed_nb.vectors.pca`), float32 ``(n, 2)``."""
    return pca(unit, 2)[0]


def normalise_layout(layout: np.ndarray) -> np.ndarray:
    """Scale a layout into [-0.95, 0.95] around its centre, keeping the aspect ratio."""
    layout = np.asarray(layout, dtype=np.float32)
    if len(layout) == 0:
        return layout
    low, high = np.nanmin(layout, axis=0), np.nanmax(layout, axis=0)
    centre = (low + high) / 2
    span = float(np.max(high - low)) or 1.0
    return ((layout - centre) * (1.9 / span)).astype(np.float32)


class ProjectionView(SelectionTable, WidgetBase):
    """A WebGL scatter of embeddings with hover texts, lasso selection, neighbours and search.

    Args:
        data: an :class:`~embed_nb.Embeddings`, an ``(n, d)`` array, or a list of texts.
        texts: one text per point (defaults to the Embeddings' texts).
        labels: one label per point, to colour by.
        model: embeds the query box's text (and ``data`` when it is texts): a model, a
            callable ``f(list_of_texts) -> (n, d)``, a registry name or None (current model).
        umap: compute a UMAP layout in a background thread and show it when ready (needs
            umap-learn); ``False`` keeps PCA.
        color_by: ``"label"``, ``"kmeans"``, ``"hdbscan"`` or ``"none"``.
        n_clusters: clusters for KMeans.
        k: neighbours shown on click and results shown for a query.
        images: one image per point (anything :func:`embed_nb.media.decode_media` takes: a
            path, bytes, a PIL image, an ``(h, w, 3)`` uint8 array), or None for a point that
            is a text. Defaults to the Embeddings' ``media``. Hovering an image point shows
            its thumbnail, and so do the query's hits.
        thumbnails: draw thumbnails in place of dots once the view is zoomed in far enough
            that the visible points fit (at most 150 visible, spaced at least 28 px apart on
            average); a checkbox in the view toggles it.
        frame: a pandas DataFrame with one row per point; its columns can colour, size and
            filter the points (and the selection table shows them).
        color_by: also any column: the name of a ``frame`` column, or a pandas Series, list
            or 1-D array with one value per point. Strings, booleans, integers with at most 12
            distinct values, and mixes of numbers and strings (read as strings) are
            categories, with a legend; other numbers get a colour bar on viridis
            (perceptually uniform, colour-blind safe), quantised to 255 levels in the kernel.
            NaN/None is drawn grey as "missing" (not refused); infinity, a wrong length or a
            2-D value is refused. The modes' names win over columns of the same name.
        size_by: a numeric column (name, Series, list or array) that scales the points
            (quantised to 256 sizes); NaN or infinity is refused.
        cluster_labels: your own map labels, ``{cluster id or category name: text}``
            (see :attr:`cluster_labels`).
        label_by: which categories the map labels name: ``"label"``, ``"kmeans"``,
            ``"hdbscan"`` or a categorical column; default: the colour's categories, or
            ``labels=``'s when the colour is numeric.
        show_labels: draw the labels on the map (a checkbox in the view).
        contours: draw density contours over the points (a checkbox in the view).

    Python sees the view's state: :attr:`selected` (indices; set it to highlight points),
    :attr:`selected_texts`, :attr:`focused` (the clicked point), :attr:`neighbors`,
    :attr:`query` and :attr:`query_hits`; :attr:`map_labels` (the labels' anchors),
    :attr:`filter` (the filter box: ``column=value``, or text contained in the points' texts,
    case-insensitive) and :attr:`filter_mask` (1 per matching point; the rest are dimmed).
    """

    _bundle = "projection.js"

    n_points = traitlets.Int(0).tag(sync=True)
    positions = traitlets.Any(None).tag(**binary("float32"))  # x[0..n) then y[0..n)
    categories = traitlets.Any(None).tag(**binary("uint8"))
    category_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    category_colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    color_by = traitlets.Unicode("none").tag(sync=True)
    color_choices = traitlets.List(traitlets.Unicode()).tag(sync=True)
    projection = traitlets.Unicode("pca").tag(sync=True)
    umap_state = traitlets.Unicode("off").tag(sync=True)  # off/running/done/error/unavailable
    progress = traitlets.Float(0.0).tag(sync=True)

    selected = IndexArray().tag(**binary("uint32"))
    focused = traitlets.Int(-1).tag(sync=True)
    # Ranked (nearest first), so plain arrays rather than index sets.
    neighbors = traitlets.Any(None).tag(**binary("uint32"))
    neighbor_scores = traitlets.Any(None).tag(**binary("float32"))
    query = traitlets.Unicode("").tag(sync=True)
    query_hits = traitlets.Any(None).tag(**binary("uint32"))
    query_scores = traitlets.Any(None).tag(**binary("float32"))
    query_error = traitlets.Unicode("").tag(sync=True)
    k = traitlets.Int(10).tag(sync=True)
    # 1 per point that has an image (None when none has); thumbnails come on request.
    image_mask = traitlets.Any(None).tag(**binary("uint8"))
    thumbnails = traitlets.Bool(False).tag(sync=True)
    # Colour by a column: "" for categories (category_colors), "viridis" for numbers, whose
    # codes 0..254 span color_range and 255 is missing (drawn grey).
    color_scale = traitlets.Unicode("").tag(sync=True)
    color_range = traitlets.List(traitlets.Float(), default_value=[0.0, 0.0]).tag(sync=True)
    color_missing = traitlets.Int(0).tag(sync=True)
    size_by = traitlets.Unicode("").tag(sync=True)
    size_choices = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sizes = traitlets.Any(None).tag(**binary("uint8"))  # 0..255 per point, None: one size
    # Labels on the map: one {text, x, y, n, key} per category, largest first.
    map_labels = traitlets.List(traitlets.Dict()).tag(sync=True)
    show_labels = traitlets.Bool(True).tag(sync=True)
    label_by = traitlets.Unicode("").tag(sync=True)  # "": the colour's categories
    # Density contours: x0, y0, x1, y1, level per segment, in layout coordinates.
    contours = traitlets.Bool(False).tag(sync=True)
    contour_lines = traitlets.Any(None).tag(**binary("float32"))
    # The filter box: 1 per point that matches (None: no filter); non-matching are dimmed.
    filter = traitlets.Unicode("").tag(sync=True)
    filter_mask = traitlets.Any(None).tag(**binary("uint8"))
    filter_count = traitlets.Int(-1).tag(sync=True)

    def __init__(
        self,
        data: Any,
        texts: Sequence[str] | None = None,
        *,
        labels: Sequence[Any] | None = None,
        model: Any = None,
        umap: bool = True,
        color_by: Literal["label", "kmeans", "hdbscan", "none"] | str | Any = None,
        n_clusters: int = 8,
        k: int = 10,
        umap_options: dict[str, Any] | None = None,
        images: Sequence[Any] | None = None,
        thumbnails: bool = False,
        frame: Any = None,
        size_by: Any = None,
        cluster_labels: dict[Any, str] | None = None,
        label_by: str | None = None,
        show_labels: bool = True,
        contours: bool = False,
        **kwargs: Any,
    ) -> None:
        for name, flag in (("show_labels", show_labels), ("contours", contours)):
            if not isinstance(flag, bool):
                raise InvalidInputError(f"{name} must be True or False, not {type(flag).__name__}")
        n_clusters = bounded_int(n_clusters, "n_clusters", 1, MAX_CLUSTERS)
        k = bounded_int(k, "k", 1, MAX_K)
        if umap_options is not None and not isinstance(umap_options, dict):
            kind = type(umap_options).__name__
            raise InvalidInputError(f"umap_options must be a dict, not {kind}")
        if not isinstance(thumbnails, bool):
            kind = type(thumbnails).__name__
            raise InvalidInputError(f"thumbnails must be True or False, not {kind}")
        vectors, found = vectors_and_texts(data, texts, model)
        n = len(vectors)
        self._frame = frame
        self._columns = {c: self._frame_column(c) for c in frame_columns(frame, n)}
        color_by = self._named_column(color_by, "color_by", n)
        size_by = self._named_column(size_by, "size_by", n)
        if images is None:
            images = getattr(data, "media", None)
        self._thumbs = ThumbnailSource(images, n)
        self._n_points = n
        self._unit = unit_rows(vectors)
        self._model = model
        self._labels, self._label_names = label_codes(labels, n)
        self._n_clusters = n_clusters
        self._umap_options = dict(umap_options or {})
        self._fingerprint = fingerprint(self._unit)
        self._cluster_cache: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._codings: dict[str, ColumnCoding] = {}
        self._custom_labels: dict[Any, str] = {}
        self._layouts: dict[str, np.ndarray] = {"pca": normalise_layout(pca_2d(self._unit))}
        super().__init__(**kwargs)
        self._texts = found if found is not None else [f"#{i}" for i in range(n)]
        self._handlers["thumbs"] = self._thumbs.on_request
        self._init_selection_table(frame, (getattr(data, "extra", None) or {}).get("index"))
        modes = (["label"] if self._labels is not None else []) + ["kmeans", "hdbscan", "none"]
        choices = modes + [c for c in self._columns if c not in COLOR_MODES]
        with self.hold_sync():
            self.n_points = n
            self.k = k
            self.color_choices = choices
            self.positions = self._layouts["pca"].T.copy()
            self.projection = "pca"
            self.image_mask = self._thumbs.mask
            self.thumbnails = thumbnails
            self.size_choices = ["none", *self._numeric_columns()]
            self.show_labels = show_labels
        if color_by not in (None, *choices):
            raise InvalidInputError(
                f"color_by must be one of {COLOR_MODES} or a column of frame= "
                f"({list(self._columns)}), not {color_by!r}"
            )
        if label_by not in (None, "", *choices):
            raise InvalidInputError(f"label_by must be one of {choices}, not {label_by!r}")
        if size_by is not None:
            self._size_codes(size_by)  # refuse bad sizes before anything is shown
        self.observe(self._recolor, names="color_by")
        self.observe(self._on_size_by, names="size_by")
        self.observe(self._update_labels, names=["label_by", "show_labels"])
        self.observe(self._update_contours, names="contours")
        self.observe(self._on_filter, names="filter")
        self.observe(self._on_focus, names="focused")
        self.observe(self._on_query, names=["query", "k"])
        self.label_by = label_by or ""
        self.color_by = color_by or ("label" if self._labels is not None else "none")
        self._recolor(None)
        self.cluster_labels = cluster_labels or {}
        self.size_by = size_by or ""
        self.contours = contours
        self._umap_thread: threading.Thread | None = None
        if umap:
            self.start_umap()

    # --- Python side -------------------------------------------------------------------

    @property
    def texts(self) -> list[str]:
        return list(self._texts)

    @property
    def selected_texts(self) -> list[str]:
        """The texts of the selected points, in index order."""
        return [self._texts[i] for i in self.selected]

    @property
    def layout(self) -> np.ndarray:
        """The shown 2-D layout, ``(n, 2)`` float32 (normalised to [-0.95, 0.95])."""
        return self._layouts[self.projection]

    def thumbnail(self, index: int) -> bytes | None:
        """The thumbnail the view shows for point ``index`` (JPEG, PNG for audio), or None
        for a text point."""
        return self._thumbs.thumbnail(index)

    def wait_for_umap(self, timeout: float | None = None) -> bool:
        """Block until the UMAP thread is done; True if the UMAP layout is shown."""
        if self._umap_thread is not None:
            self._umap_thread.join(timeout)
        return self.projection == "umap"

    def search(self, text: str) -> list[tuple[int, float]]:
        """Set the query box to ``text`` and return ``[(index, score), ...]`` best first."""
        self.query = text
        if self.query_error:
            raise InvalidInputError(self.query_error)
        hits = self.query_hits if self.query_hits is not None else []
        scores = self.query_scores if self.query_scores is not None else []
        return [(int(i), float(s)) for i, s in zip(hits, scores, strict=True)]

    def nearest(self, index: int, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours of point ``index`` by cosine: ``(indices, scores)``."""
        return self._top_k(self._unit @ self._unit[index], k or self.k, exclude=index)

    # --- layouts -----------------------------------------------------------------------

    def start_umap(self) -> None:
        """Compute the UMAP layout in a background thread (cached by embeddings fingerprint)."""
        if self._umap_thread is not None and self._umap_thread.is_alive():
            return
        if importlib.util.find_spec("umap") is None:  # importing it takes seconds: the thread does
            self.umap_state = "unavailable"
            self.status = "UMAP needs umap-learn: pip install 'embed_nb[widgets]'"
            return
        key = fingerprint(self._unit, sorted(self._umap_options.items()))
        cached = _UMAP_CACHE.get(key)
        if cached is not None:
            self._show_layout("umap", cached)
            return
        self.umap_state = "running"
        self.status = "UMAP: starting"
        self._umap_thread = threading.Thread(
            target=self._run_umap, args=(key,), name="embed_nb-umap", daemon=True
        )
        self._umap_thread.start()

    def _run_umap(self, key: str) -> None:
        last = [-1.0]

        def progress(stage: str, fraction: float) -> None:
            if fraction - last[0] >= 0.02 or fraction >= 1.0:
                last[0] = fraction
                self.progress = fraction
                self.status = f"UMAP: {stage} ({fraction:.0%})"

        try:
            with _UMAP_LOCK:  # one UMAP at a time: numba layouts compete for the same cores
                layout = normalise_layout(
                    umap_layout(self._unit, progress=progress, **self._umap_options)
                )
            _UMAP_CACHE[key] = layout
            self._show_layout("umap", layout)
        except Exception as error:  # shown in the view; PCA stays
            self.umap_state = "error"
            self.status = f"UMAP failed: {type(error).__name__}: {error}"

    def _show_layout(self, name: str, layout: np.ndarray) -> None:
        self._layouts[name] = layout
        with self.hold_sync():
            self.positions = layout.T.copy()
            self.projection = name
            if name == "umap":
                self.umap_state = "done"
                self.progress = 1.0
                self.status = ""
        if self.color_by == "hdbscan":
            self._recolor(None)  # clusters of the new layout
        else:
            self._update_labels(None)  # centres in the new layout
        self._update_contours(None)

    # --- colour ------------------------------------------------------------------------

    def _recolor(self, change: Any) -> None:
        mode = self.color_by
        names: list[str]
        if mode not in COLOR_MODES and mode in self._columns:
            coding = self._coding(mode)
            numeric = coding.kind == "numeric"
            with self.hold_sync():
                self.color_scale = "viridis" if numeric else ""
                self.color_range = [coding.low, coding.high]
                self.color_missing = coding.missing
                self.category_names = [] if numeric else coding.names
                self.category_colors = [] if numeric else coding.colors
                self.categories = coding.codes
            self._update_labels(None)
            return
        if mode == "label" and self._labels is not None:
            codes, names = self._labels, list(self._label_names)
        elif mode in ("kmeans", "hdbscan"):
            try:
                codes, names = self._clusters(mode)
            except ImportError:
                self.status = "clusters need scikit-learn: pip install 'embed_nb[widgets]'"
                codes, names = np.zeros(self._n_points, np.int64), []
        else:
            codes, names = np.zeros(self._n_points, np.int64), []
        categories, names, colors = compact_categories(codes, names)
        with self.hold_sync():
            self.color_scale = ""
            self.color_missing = 0
            self.category_names = names
            self.category_colors = colors
            self.categories = categories
        self._update_labels(None)

    # --- columns: colour, size, filter -------------------------------------------------

    def _frame_column(self, name: str) -> Any:
        frame = self._frame
        column = frame.columns[[str(c) for c in frame.columns].index(name)]
        return lambda: np.asarray(frame[column].to_numpy())

    def _named_column(self, value: Any, what: str, n: int) -> str | None:
        """A mode or column name as is; a Series, list or array becomes a named column."""
        if value is None or isinstance(value, str):
            return value
        name, values = column_values(value, None, n, what)
        if name in COLOR_MODES or name in self._columns:
            name = f"{name} ({what})"
        self._columns[name] = lambda: values
        return name

    def _coding(self, name: str) -> ColumnCoding:
        if name not in self._codings:
            self._codings[name] = code_column(self._columns[name](), f"color_by={name!r}")
        return self._codings[name]

    def _numeric_columns(self) -> list[str]:
        numeric = []
        for name in self._columns:
            try:
                code_sizes(self._columns[name]())
            except InvalidInputError:
                continue
            numeric.append(name)
        return numeric

    def _size_codes(self, name: str) -> np.ndarray | None:
        if not name or name == "none":
            return None
        if name not in self._columns:
            raise InvalidInputError(
                f"size_by must be a column of frame= ({list(self._columns)}), not {name!r}"
            )
        return code_sizes(self._columns[name](), f"size_by={name!r}")

    def _on_size_by(self, change: Any) -> None:
        self.sizes = self._size_codes(self.size_by)

    def _on_filter(self, change: Any) -> None:
        mask, _ = filter_mask(self.filter, self._texts, self._columns)
        with self.hold_sync():
            self.filter_count = -1 if mask is None else int(mask.sum())
            self.filter_mask = mask

    # --- labels and contours -----------------------------------------------------------

    @property
    def cluster_labels(self) -> dict[Any, str]:
        """Your own map labels: ``{cluster id or category name: text}``. Keys are the ids of
        KMeans/HDBSCAN clusters (0, 1, ...) or category names as the legend shows them (a
        ``labels=`` value, a categorical column's value); a key that names no cluster is
        refused. Clusters not named keep their keywords."""
        return dict(self._custom_labels)

    @cluster_labels.setter
    def cluster_labels(self, labels: dict[Any, str] | None) -> None:
        known: set[Any] = set(self._label_names)
        known.update(range(self._n_clusters))
        for _codes, names in self._cluster_cache.values():
            known.update(range(len(names)))
            known.update(names)
        source = self._label_source()
        if source is not None:
            known.update(source[1])
            known.update(range(len(source[1])))
        self._custom_labels = check_custom_labels(labels, known)
        self._update_labels(None)

    def _label_source(self) -> tuple[np.ndarray, list[str]] | None:
        """The categories the map labels name: ``label_by``'s, else the colour's when they
        are categories, else ``labels=``'s; None when there are none."""
        mode = self.label_by or self.color_by
        if mode == "label" and self._labels is not None:
            return self._labels, list(self._label_names)
        if mode in ("kmeans", "hdbscan"):
            try:
                return self._clusters(mode)
            except ImportError:
                return None
        if mode in self._columns and mode not in COLOR_MODES:
            coding = self._coding(mode)
            if coding.kind == "categorical":
                return coding.codes, coding.names
        if self._labels is not None and not self.label_by:
            return self._labels, list(self._label_names)
        return None

    def _update_labels(self, change: Any) -> None:
        if not hasattr(self, "_custom_labels"):
            return  # still in __init__
        source = self._label_source() if self.show_labels else None
        if source is None:
            self.map_labels = []
            return
        codes, names = source
        self.map_labels = label_anchors(codes, names, self.layout, self._custom_labels)

    def _update_contours(self, change: Any) -> None:
        self.contour_lines = contour_segments(self.layout).reshape(-1) if self.contours else None

    def _clusters(self, method: str) -> tuple[np.ndarray, list[str]]:
        key = f"{method}:{self.projection}" if method == "hdbscan" else method
        if key not in self._cluster_cache:
            self.status = f"clustering ({method})…"
            codes, names = cluster_codes(
                method, self._unit, self.layout, self._n_clusters, self._texts
            )
            self._cluster_cache[key] = (codes, names)
            self.status = "" if self.umap_state != "running" else self.status
        return self._cluster_cache[key]

    # --- neighbours and query ----------------------------------------------------------

    def _top_k(
        self, scores: np.ndarray, k: int, exclude: int = -1
    ) -> tuple[np.ndarray, np.ndarray]:
        top, best = top_k(scores, k, exclude=exclude)
        return top.astype(np.uint32), best.astype(np.float32)

    def _on_focus(self, change: Any) -> None:
        index = self.focused
        if 0 <= index < self._n_points:
            top, scores = self.nearest(index)
        else:
            top, scores = np.zeros(0, np.uint32), np.zeros(0, np.float32)
        with self.hold_sync():
            self.neighbor_scores = scores
            self.neighbors = top

    def _on_query(self, change: Any) -> None:
        text = self.query.strip()
        top, scores, error = np.zeros(0, np.uint32), np.zeros(0, np.float32), ""
        if text:
            try:
                vector = embed_texts([text], self._model)[0]
            except Exception as exc:  # shown next to the box
                vector, error = None, f"{type(exc).__name__}: {exc}"
            if vector is not None and vector.shape[0] != self._unit.shape[1]:
                error = (
                    f"the query model gives {vector.shape[0]} dimensions, the points have "
                    f"{self._unit.shape[1]}: pass model= the model that embedded them"
                )
            elif vector is not None:
                top, scores = self._top_k(self._unit @ unit_vector(vector), self.k)
        with self.hold_sync():
            self.query_error = error
            self.query_scores = scores
            self.query_hits = top

    def _on_texts(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        reply, buffers = super()._on_texts(content)
        reply["texts"] = [clip_text(t, 600) for t in reply["texts"]]
        return reply, buffers

    # --- static picture ----------------------------------------------------------------

    def _offline_data(self) -> dict[str, Any]:  # what to_html's page answers (html_export)
        from ._offline import projection_offline

        return projection_offline(self)

    def to_image(self, size: int = 480) -> np.ndarray:
        """The current layout as an ``(size, size, 3)`` uint8 picture (for export and docs).

        Points are discs, smaller as they get more numerous, so that a few hundred points
        still read as a picture and a million do not become one blot.
        """
        image = np.full((size, size, 3), 255, np.uint8)
        n = self._n_points
        radius = 3 if n <= 2_000 else 2 if n <= 50_000 else 1
        margin = radius + 4
        scale = (size - 1 - 2 * margin) / 2
        xy = np.nan_to_num(self.layout)
        px = (margin + (xy[:, 0] + 1) * scale).round().astype(np.int64)
        py = (margin + (1 - xy[:, 1]) * scale).round().astype(np.int64)
        if self.color_scale:  # numbers: codes 0..254 on viridis, 255 missing
            lut = viridis()[np.rint(np.arange(255) * (255 / 254)).astype(np.int64)]
            colors = np.vstack([lut, np.array([hex_to_rgb("#bdbdbd")], np.uint8)])
        else:
            colors = np.array(
                [hex_to_rgb(c) for c in self.category_colors] or [hex_to_rgb("#4e79a7")],
                np.uint8,
            )
        cats = np.minimum(np.asarray(self.categories, dtype=np.int64), len(colors) - 1)
        point_colors = colors[cats]
        for dx in range(-radius, radius + 1):
            for dy in range(-radius, radius + 1):
                if dx * dx + dy * dy <= radius * radius:
                    image[np.clip(py + dy, 0, size - 1), np.clip(px + dx, 0, size - 1)] = (
                        point_colors
                    )
        return image

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if not bundle:
            return bundle
        data, metadata = bundle
        return {**data, "image/png": png_base64(self.to_image())}, metadata
