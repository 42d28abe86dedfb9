"""nbconvert HTML export shows the widgets' PNG snapshots (no kernel, no CDN needed)."""

from __future__ import annotations

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")

from embed_nb.widgets import ProjectionView, SimilarityMatrix  # noqa: E402
from embed_nb.widgets._base import STATIC_DIR  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (STATIC_DIR / "projection.js").is_file(), reason="widget bundle not built"
)


def test_html_export_shows_snapshots() -> None:
    from embed_nb.widgets.export import StaticWidgetsHTMLExporter

    vectors = np.random.default_rng(0).normal(size=(40, 8))
    outputs = []
    for widget in (SimilarityMatrix(vectors), ProjectionView(vectors, umap=False)):
        data, metadata = widget._repr_mimebundle_()
        outputs.append(nbformat.v4.new_output("display_data", data=data, metadata=metadata))
    cell = nbformat.v4.new_code_cell("w", outputs=outputs)
    notebook = nbformat.v4.new_notebook(cells=[cell])
    html, _ = StaticWidgetsHTMLExporter().from_notebook_node(notebook)
    assert html.count("data:image/png;base64,") >= 2
    assert "application/vnd.jupyter.widget-view+json" not in html
