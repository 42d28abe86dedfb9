"""The widgets in Notebook 7 (the `notebook` package), not only in JupyterLab: the same
bundle, loaded by anywidget from the kernel, drawn and talking back to Python."""

from __future__ import annotations

from typing import Any

from conftest import Lab, lasso, nonblank_pixels, notebook_opener

CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import teaching_topics\n"
    "from embed_nb.widgets import ProjectionView, SimilarityMatrix\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')\n"
    "pairs = teaching_topics()\n"
    "vectors = model.embed([s for s, _ in pairs])\n"
    "labels = [t for _, t in pairs]",
    "m = SimilarityMatrix(vectors, labels=labels)\nm",
    "w = ProjectionView(vectors, labels=labels, umap=False)\nw",
]


def test_widgets_render_and_sync_in_notebook7(notebook7: Lab, browser: Any) -> None:
    with notebook_opener(notebook7, browser, "/notebooks/") as open_notebook:
        nb = open_notebook("notebook7.ipynb", CELLS)
        page = nb.page
        # Notebook 7's own single-document page, not Lab's shell.
        assert "/notebooks/" in page.url and page.locator(".jp-LabShell").count() == 0
        sim = page.locator(".enb-sim")
        sim.wait_for(state="visible", timeout=30_000)
        # The new parts draw here too: the matrix's row labels, the map's labels and table.
        assert sim.locator(".enb-sim-rowlabel").count() == nb.eval("len(labels)")
        shot = nb.screenshot(sim, "notebook7-similarity.png")
        assert nonblank_pixels(page, shot.read_bytes()) > 10_000

        root = page.locator(".enb-proj")
        page.wait_for_selector(".enb-proj[data-drawn='pca']", timeout=30_000)
        root.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        shot = nb.screenshot(root, "notebook7-projection.png")
        assert nonblank_pixels(page, shot.read_bytes()) > 5_000

        # A lasso in the page reaches Python, as in JupyterLab.
        stage = root.locator(".enb-proj-stage").bounding_box()
        assert stage is not None
        x0, y0 = stage["x"] + 5, stage["y"] + 5
        x1, y1 = stage["x"] + stage["width"] - 5, stage["y"] + stage["height"] - 5
        lasso(page, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        count = nb.wait_for_kernel("len(w.selected)", timeout_s=30)
        assert count == nb.eval("w.n_points")
        assert root.locator(".enb-map-label").count() > 0
        page.wait_for_function(
            "() => document.querySelectorAll('.enb-table-body .enb-table-row').length > 0"
        )
        assert nb.eval("len(w.selection)") == count
