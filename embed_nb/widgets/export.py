"""Exporting notebooks with embed_nb widgets to HTML that needs no kernel and no CDN.

Every embed_nb widget puts a PNG snapshot next to its widget view in the output. nbconvert's
HTML exporter prefers the widget view, which shows nothing unless the widget state was saved
*and* the page can fetch the widget manager from a CDN. This exporter drops the widget view
where a snapshot exists, so the picture shows instead::

    jupyter nbconvert --to embed_nb_html notebook.ipynb

(or ``--to html --HTMLExporter.preprocessors=embed_nb.widgets.export.WidgetSnapshots``).
"""

from __future__ import annotations

from typing import Any

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor

__all__ = ["StaticWidgetsHTMLExporter", "WidgetSnapshots"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_preprocessor(WidgetSnapshots, enabled=True)
