"""One self-contained, offline HTML file of a widget: ``widget.to_html("map.html")``.

The page needs no kernel, no server and no network. It holds:

- ``#enb-meta``: a small JSON index (the widget's JSON traits, where its binary traits go,
  the offline tables' types), escaped so that no text in it can close the script element;
- ``#enb-blob``: one base64 blob of gzip with everything large: the binary traits (positions,
  colours, ...), the widget's bundled JS module and CSS, its offline data (hover texts,
  neighbour tables, thumbnails);
- the host script (``js/src/standalone.js``), which decompresses the blob with
  ``DecompressionStream("gzip")`` (modern browsers only, on purpose: Chromium 80+, Firefox
  113+, Safari 16.4+), builds a stand-in for anywidget's ``model`` from the state, and calls
  the module's ``render``. Requests the view sends are answered from the offline data;
  those that need the model (a search) say that they need the kernel.

A Content-Security-Policy in the page forbids every network fetch: only inline scripts, the
blob: URL of the widget module, and blob:/data: images run or load.

The state is taken generically (``widget.get_state()``), so a new synced trait of any
:class:`~embed_nb.widgets._base.WidgetBase` subclass is exported without a change here; what
the page answers offline comes from the widget's ``_offline_data()``.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..files import atomic_write
from ._base import bundle_text

__all__ = ["OFFLINE_MIME", "OfflinePage", "standalone_html", "write_html"]

# The MIME type under which a widget's display may carry its exported page (for nbconvert).
OFFLINE_MIME = "application/vnd.embed-nb.standalone+html"
# Traits of ipywidgets/anywidget's own that the page has no use for (and one, _esm, that
# travels inside the blob instead).
_SKIPPED = {"layout", "tabbable", "tooltip"}
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' blob:; "
    "style-src 'unsafe-inline'; img-src blob: data:; connect-src blob: data:; "
    "worker-src blob:; font-src data:"
)


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` appears raw.

    Escaping every ``<`` as ``\\u003c`` (still the same JSON) covers ``</script>`` and
    ``<!--``, so no text from a document can end the element or change how it is parsed.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Blob:
    """The parts of the page's one gzip blob, each an ``[offset, length]`` into it."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, data: bytes | memoryview) -> list[int]:
        chunk = bytes(data)
        where = [self._size, len(chunk)]
        self._chunks.append(chunk)
        self._size += len(chunk)
        return where

    def add_text(self, text: str) -> list[int]:
        return self.add(text.encode("utf-8"))

    def base64(self) -> str:
        packed = gzip.compress(b"".join(self._chunks), compresslevel=9, mtime=0)
        return base64.b64encode(packed).decode("ascii")


def _widget_state(widget: Any) -> tuple[dict[str, Any], list[list[Any]], list[Any]]:
    """The synced state, JSON part and binary buffers apart (as ipywidgets sends it)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state = {
        name: value
        for name, value in widget.get_state().items()
        if not name.startswith("_") and name not in _SKIPPED
    }
    json_state, paths, buffers = _remove_buffers(state)
    return json_state, paths, buffers


def standalone_html(widget: Any, title: str | None = None) -> str:
    """The exported page of ``widget`` as one HTML string (see the module docstring)."""
    state, paths, buffers = _widget_state(widget)
    offline = dict(widget._offline_data())
    tables: dict[str, Any] = offline.pop("tables", {}) or {}
    blob = _Blob()
    table_specs = {}
    for name, array in tables.items():
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<")
        if dtype.name not in ("uint8", "uint16", "uint32", "int32", "float32"):
            raise TypeError(f"offline table {name!r} has dtype {array.dtype}, not a typed array")
        table_specs[name] = {"dtype": dtype.name, "part": blob.add(array.astype(dtype).tobytes())}
    meta = {
        "version": 1,
        "widget": type(widget).__name__,
        "state": state,
        "buffer_paths": paths,
        "tables": table_specs,
        "parts": {
            "buffers": [blob.add(buffer) for buffer in buffers],
            "module": blob.add_text(bundle_text(type(widget)._bundle)),
            "css": blob.add_text(bundle_text("widgets.css")),
            "offline": blob.add_text(json.dumps(offline, ensure_ascii=False)),
        },
    }
    host = bundle_text("standalone.js")
    if "</script" in host.lower():  # cannot happen with our host; never emit a broken page
        raise RuntimeError("the standalone host script contains '</script'")
    name = html.escape(title or f"embed_nb {type(widget).__name__}", quote=True)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="embed_nb to_html">\n'
        f"<title>{name}</title>\n"
        "<style>body{margin:16px;font-family:system-ui,sans-serif;}</style>\n"
        "</head>\n<body>\n"
        '<div id="enb-root"></div>\n'
        f'<script type="application/json" id="enb-meta">{script_json(meta)}</script>\n'
        f'<script type="application/octet-stream" id="enb-blob">{blob.base64()}</script>\n'
        f'<script type="module">{host}</script>\n'
        "</body>\n</html>\n"
    )


def write_html(widget: Any, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Write ``widget``'s exported page to ``path`` atomically; return the path written.

    Raises:
        InvalidInputError: ``path`` is not a path, or is empty.
        FileAccessError: the folder is missing or read-only, ``path`` is a directory, the
            disk is full (the file is then left as it was).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidInputError(
            f"to_html needs a file path such as 'map.html', not {type(path).__name__} {path!r}"
        )
    target = Path(os.fspath(path)).expanduser()
    page = standalone_html(widget, title)
    with atomic_write(target, "w") as handle:
        handle.write(page)
    return target


class OfflinePage:
    """A widget's exported page as a notebook output, for ``nbconvert --to embed_nb_html``.

    ``display(OfflinePage(view))`` stores the page (MIME ``OFFLINE_MIME``) in the notebook;
    JupyterLab shows its one-line text, and the exporter with ``--interactive`` (see
    :mod:`embed_nb.widgets.export`) shows the working page in an iframe. Opt-in, since the
    page holds every text and can weigh megabytes.
    """

    def __init__(self, widget: Any, title: str | None = None) -> None:
        self.page = standalone_html(widget, title)
        self.name = type(widget).__name__

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        size = len(self.page.encode("utf-8"))
        note = (
            f"embed_nb offline page of a {self.name} ({size / 1e6:.1f} MB); "
            "jupyter nbconvert --to embed_nb_html --StaticWidgetsHTMLExporter.interactive=True "
            "shows it working"
        )
        return {OFFLINE_MIME: self.page, "text/plain": note}
