"""Exporting notebooks with embed_nb widgets to HTML that needs no kernel and no CDN.

Every embed_nb widget puts a PNG snapshot next to its widget view in the output. nbconvert's
HTML exporter prefers the widget view, which shows nothing unless the widget state was saved
*and* the page can fetch the widget manager from a CDN. This exporter drops the widget view
where a snapshot exists, so the picture shows instead::

    jupyter nbconvert --to embed_nb_html notebook.ipynb

(or ``--to html --HTMLExporter.preprocessors=embed_nb.widgets.export.WidgetSnapshots``).

With ``--StaticWidgetsHTMLExporter.interactive=True``, an output that holds a widget's offline
page (``display(OfflinePage(view))``, :mod:`embed_nb.widgets.html_export`: the same page as
``view.to_html(path)``) is shown as that page, working, in a sandboxed ``<iframe srcdoc>``:
hover, lasso and labels run in the exported HTML with no kernel. Other widgets keep their
snapshots.
"""

from __future__ import annotations

import html
from typing import Any

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .html_export import OFFLINE_MIME

__all__ = ["OfflinePages", "StaticWidgetsHTMLExporter", "WidgetSnapshots"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The iframe of an offline page: scripts run, in an opaque origin (no access to the notebook
# page around it); the page's own CSP forbids the network.
IFRAME = (
    '<iframe class="embed-nb-offline" sandbox="allow-scripts" '
    'style="width:100%;height:{height}px;border:1px solid #ddd" srcdoc="{page}"></iframe>'
)


class OfflinePages(Preprocessor):
    """Show outputs that carry a widget's offline page as that page, in an iframe."""

    height = 760

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            page = data.get(OFFLINE_MIME)
            if page is None:
                continue
            frame = IFRAME.format(height=self.height, page=html.escape(page, quote=True))
            for mime in (OFFLINE_MIME, WIDGET_VIEW, "image/png", "text/plain"):
                data.pop(mime, None)
            data["text/html"] = frame
        return cell, resources


class WidgetSnapshots(Preprocessor):
    """Replace widget views that carry a PNG snapshot by the snapshot."""

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
        return cell, resources


class StaticWidgetsHTMLExporter(HTMLExporter):
    """nbconvert's HTML (lab template) with embed_nb widgets shown as their snapshots."""

    export_from_notebook = "HTML with widget snapshots"

    interactive = Bool(
        False,
        help="Show the offline pages saved with display(OfflinePage(view)) as working pages "
        "(iframes with hover, lasso, labels) instead of leaving them out.",
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_preprocessor(WidgetSnapshots, enabled=True)
        self.register_preprocessor(_OfflineSwitch(exporter=self), enabled=True)


class _OfflineSwitch(Preprocessor):
    """Offline pages: shown (``interactive``) or dropped, so the text stub does not show."""

    def __init__(self, exporter: StaticWidgetsHTMLExporter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._exporter = exporter
        self._pages = OfflinePages()

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        if self._exporter.interactive:
            return self._pages.preprocess_cell(cell, resources, index)
        cell["outputs"] = [
            output
            for output in cell.get("outputs", [])
            if OFFLINE_MIME not in output.get("data", {})
        ]
        return cell, resources
