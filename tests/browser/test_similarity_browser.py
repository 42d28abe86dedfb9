"""SimilarityMatrix in a real JupyterLab: renders, hover shows both texts, click pins."""

from __future__ import annotations

from typing import Any

from conftest import nonblank_pixels

EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'

CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import teaching_topics\n"
    "from embed_nb.widgets import SimilarityMatrix\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')",
    "pairs = teaching_topics()\n"
    f"texts = [s for s, _ in pairs] + [{EVIL!r}]\n"
    "labels = [t for _, t in pairs] + ['evil']\n"
    "w = SimilarityMatrix(model.embed(texts), labels=labels, order='input')\n"
    "w",
]


def test_similarity_matrix_renders_hovers_and_pins(notebook: Any) -> None:
    nb = notebook("similarity.ipynb", CELLS)
    page = nb.page
    canvas = page.locator(".enb-sim-canvas")
    canvas.wait_for(state="visible", timeout=30_000)
    stage = page.locator(".enb-sim")
    shot = nb.screenshot(stage, "similarity-matrix.png")
    assert nonblank_pixels(page, shot.read_bytes()) > 10_000

    n = nb.eval("w.size")
    assert n == 43
    overlay = page.locator(".enb-sim-overlay")
    box = overlay.bounding_box()
    assert box is not None
    cell = box["width"] / n

    # Hover the cell (row 0, column 1): the tooltip shows both texts and the exact score.
    page.mouse.move(box["x"] + 1.5 * cell, box["y"] + 0.5 * cell)
    tip = page.locator(".enb-tip")
    tip.get_by_text("A feline rests on the rug").wait_for(timeout=10_000)
    assert "The cat sits on the mat" in tip.inner_text()
    exact = nb.eval("round(w.score(0, 1), 6)")
    assert f"score {exact:.6f}" in tip.inner_text()
    assert nb.wait_for_kernel("w.hovered_cell") == [0, 1]

    # Hover the malicious text's row: it shows as text and never runs.
    last = n - 1
    page.mouse.move(box["x"] + 0.5 * cell, box["y"] + (last + 0.5) * cell)
    tip.get_by_text("onerror", exact=False).wait_for(timeout=10_000)
    assert page.evaluate("window.__enb_pwned") is None
    assert page.locator(".enb-tip img").count() == 0

    # Click pins the cell; Python sees it in input indices.
    page.mouse.click(box["x"] + 1.5 * cell, box["y"] + 0.5 * cell)
    assert nb.wait_for_kernel("w.pinned") == [0, 1]
    page.locator(".enb-pinned").get_by_text("A feline rests on the rug").wait_for(timeout=10_000)
    # Pinning from Python moves the pin in the view.
    nb.eval("w.pin(2, 3) or 0")
    page.locator(".enb-pinned").get_by_text("#3").wait_for(timeout=10_000)
    assert page.evaluate("window.__enb_pwned") is None
