"""The teaching notebooks as a reader meets them: examples 01 and 04 opened in a real
JupyterLab, every cell run, their widgets drawn, and (04) a lasso read back in Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import lasso, nonblank_pixels

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quickstart_shows_its_similarity_matrices(notebook: Any) -> None:
    name = "01-quickstart.ipynb"
    nb = notebook(name, EXAMPLES / name)
    page = nb.page
    # `%embed_sim e` (3 sentences) and the teaching set's SimilarityMatrix.
    page.wait_for_function("() => document.querySelectorAll('.enb-sim-canvas').length === 2")
    matrices = page.locator(".enb-sim")
    small = nb.screenshot(matrices.nth(0), "example-01-embed-sim.png")
    large = nb.screenshot(matrices.nth(1), "example-01-teaching-matrix.png")
    assert nonblank_pixels(page, small.read_bytes()) > 2_000
    assert nonblank_pixels(page, large.read_bytes()) > 10_000
    # The page shows what the kernel holds.
    assert nb.eval("list(e.shape)") == [3, 384]
    assert nb.eval("e.texts[1]") == "A feline rests on the rug"


def test_clustering_notebook_lasso_reaches_python(notebook: Any) -> None:
    name = "04-clustering-and-projection.ipynb"
    nb = notebook(name, EXAMPLES / name)
    page = nb.page
    # The notebook shows the view twice (by package, then by cluster): one widget model.
    page.wait_for_selector('.enb-proj[data-drawn="umap"]', timeout=60_000)
    assert nb.eval("view.projection") == "umap"
    assert nb.eval("view.color_by") == "kmeans"
    root = page.locator(".enb-proj").first
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(1200)  # the PCA-to-UMAP transition
    shot = nb.screenshot(root, "example-04-projection.png")
    assert nonblank_pixels(page, shot.read_bytes()) > 5_000

    # The last cell selected the search hits from Python; a lasso in the page replaces them.
    assert nb.eval("len(view.selected)") == 10
    stage = root.locator(".enb-proj-stage").bounding_box()
    assert stage is not None
    left, top = stage["x"] + stage["width"] * 0.25, stage["y"] + stage["height"] * 0.25
    right, bottom = stage["x"] + stage["width"] * 0.75, stage["y"] + stage["height"] * 0.75
    lasso(page, [(left, top), (right, top), (right, bottom), (left, bottom)])
    nb.wait_for_kernel("len(view.selected) > 10")
    in_view = sorted(page.evaluate("document.querySelector('.enb-proj').enb.selectedPoints()"))
    assert nb.eval("view.selected.tolist()") == in_view
    # The notebook's own reading of the selection: rows of the DataFrame.
    rows = nb.eval("len(subset.iloc[view.selected][['name', 'package', 'summary']])")
    assert rows == len(in_view)
    nb.screenshot(root, "example-04-lasso.png")
