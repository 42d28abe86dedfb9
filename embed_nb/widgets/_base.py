"""What every embed_nb widget shares: the bundled front end, binary traits, lazy texts.

Numeric data crosses the comm as binary buffers: a trait tagged with :func:`binary` is
serialised to a ``memoryview`` (ipywidgets sends those as raw buffers, never as JSON), and
arrives in JavaScript as a ``DataView``. Texts are not synced at all: the front end asks for
the few it needs (the hovered point, a neighbour list) with a custom message, so a million
texts never travel at once.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..errors import EmbedNbError

__all__ = ["STATIC_DIR", "BundleMissingError", "WidgetBase", "binary"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The longest text a tooltip or list shows; the rest is cut (the kernel keeps the whole text).
MAX_TEXT_CHARS = 1200
# The most texts one request may ask for.
MAX_TEXTS_PER_REQUEST = 500
# The longest text an exported page (to_html) keeps per point: what a tooltip shows.
OFFLINE_TEXT_CHARS = 600

log = logging.getLogger(__name__)


class BundleMissingError(EmbedNbError):
    """The widgets' JavaScript bundle was not built."""


@functools.lru_cache(maxsize=16)
def _read_bundle(path: Path, mtime: float) -> str:
    del mtime  # part of the cache key only: a rebuilt bundle is read again
    return path.read_text(encoding="utf-8")


def bundle_text(name: str) -> str:
    """The contents of ``embed_nb/static/<name>``, with a clear error if it was never built."""
    path = STATIC_DIR / name
    if not path.is_file():
        raise BundleMissingError(
            f"the widget bundle {path} is missing: run `npm ci && npm run build` in js/ "
            "(or reinstall embed_nb with node and npm available)"
        )
    return _read_bundle(path, path.stat().st_mtime)


def binary(dtype: str) -> dict[str, Any]:
    """Trait metadata that syncs an ndarray (or None) as one binary buffer of ``dtype``.

    Little-endian dtypes only: that is what a ``DataView`` or typed array reads by default.
    """
    kind = np.dtype(dtype).newbyteorder("<")

    def to_json(value: Any, widget: Any) -> memoryview | None:
        if value is None:
            return None
        array = np.ascontiguousarray(value, dtype=kind).reshape(-1)
        return memoryview(array.view(np.uint8))  # type: ignore[arg-type]

    def from_json(value: Any, widget: Any) -> np.ndarray | None:
        if value is None:
            return None
        if isinstance(value, (list, tuple)):  # a front end that sent JSON anyway
            return np.asarray(value, dtype=kind)
        return np.frombuffer(bytes(value), dtype=kind).copy()

    return {"sync": True, "to_json": to_json, "from_json": from_json}


class IndexArray(traitlets.TraitType[np.ndarray, Any]):
    """A 1-D array of point indices (uint32); accepts any sequence of non-negative ints."""

    default_value = np.zeros(0, dtype=np.uint32)
    info_text = "a sequence of point indices"

    def validate(self, obj: Any, value: Any) -> np.ndarray:
        if value is None:
            return np.zeros(0, dtype=np.uint32)
        array = np.asarray(value)
        if array.size == 0:
            return np.zeros(0, dtype=np.uint32)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            self.error(obj, value)
        if array.min() < 0:
            raise traitlets.TraitError(f"{self.name}: indices must be non-negative")
        limit = getattr(obj, "_n_points", None)
        if limit is not None and array.max() >= limit:
            raise traitlets.TraitError(
                f"{self.name}: index {int(array.max())} is out of range for {limit} points"
            )
        return np.unique(array.astype(np.uint32))


class WidgetBase(anywidget.AnyWidget):
    """An anywidget whose front end is a bundled file and that answers text requests.

    Subclasses set ``_bundle`` (the file name in ``embed_nb/static/``), keep their texts in
    ``self._texts`` and may add request handlers to ``self._handlers``.
    """

    _bundle: str = ""

    # Text shown while the view is empty or the kernel is busy.
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self._texts: Sequence[str] = ()
        self._handlers: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], list[bytes]]]]
        self._handlers = {"texts": self._on_texts}
        super().__init__(**kwargs)
        self.on_msg(self._dispatch)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Read the bundle when a widget is made, not when the module is imported, so that
        # ``import embed_nb`` works (and says what to do) before the bundle is built. Only
        # classes that name a bundle: anywidget's add_traits() subclasses must keep its traits.
        if "_bundle" in cls.__dict__:
            cls._esm = property(lambda self: bundle_text(type(self)._bundle))
            cls._css = property(lambda self: bundle_text("widgets.css"))
        super().__init_subclass__(**kwargs)

    # --- messages ----------------------------------------------------------------------

    def _dispatch(self, widget: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("kind"), str):
            return
        kind = content["kind"]
        handler = self._handlers.get(kind)
        if handler is None:
            return
        try:
            reply, out_buffers = handler(content)
        except EmbedNbError as error:
            reply, out_buffers = {"error": str(error)}, []
        except Exception as error:  # the view must hear back, whatever went wrong
            log.exception("embed_nb widget request %r failed", kind)
            reply, out_buffers = {"error": f"{type(error).__name__}: {error}"}, []
        self.send({"kind": kind, "req": content.get("req"), **reply}, out_buffers)

    def _on_texts(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        ids = [int(i) for i in content.get("ids", [])][:MAX_TEXTS_PER_REQUEST]
        n = len(self._texts)
        texts = [clip_text(self._texts[i]) if 0 <= i < n else "" for i in ids]
        return {"ids": ids, "texts": texts}, []

    def text_of(self, index: int) -> str:
        """The full text of point ``index``."""
        return self._texts[index]

    # --- offline export (embed_nb.widgets.html_export) -----------------------------------

    def to_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write this view as one self-contained HTML file that works offline, with no kernel.

        The page holds the widget's bundle and state, and its hover texts; hover, lasso and
        selection work in the page, and whatever needs the model says so. Returns the path.
        An unwritable path raises a one-line :class:`~embed_nb.errors.FileAccessError`.
        """
        from .html_export import write_html

        return write_html(self, path, title)

    def _offline_data(self) -> dict[str, Any]:
        """What the exported page answers requests from: every text (clipped), by default.

        Subclasses add ``tables`` (name -> ndarray), ``requests`` (request kind -> recipe)
        and ``reactions`` (trait -> recipe); see ``js/src/standalone.js``.
        """
        return {"texts": [clip_text(text, OFFLINE_TEXT_CHARS) for text in self._texts]}


def clip_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Cut a long text for display; the front end shows it with ``textContent``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """HTML-escape document text for the static (exported) views."""
    return html.escape(text, quote=True)
