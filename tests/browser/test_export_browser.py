"""The exported HTML (widget.to_html) opened from disk in Chromium: no Jupyter, no server.

Hover shows a point's text, a lasso selects, a click lists precomputed neighbours, the search
box says it needs the kernel, hostile texts stay text, and the page asks nothing of the
network (only file:, data: and blob: URLs).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SCREENSHOTS, lasso, loneliest_point, nonblank_pixels

from embed_nb.datasets import short_texts
from embed_nb.widgets import ProjectionView, RerankList, SimilarityMatrix

DOCS = Path(__file__).resolve().parents[2] / "docs"
HOSTILE = [
    "</script><script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 1">',
    "مرحبا بالعالم: نص من اليمين إلى اليسار",
    "emoji 🙂🚀 in a text",
]


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page that records every request and dialog it makes."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.requests, page.dialogs, page.errors = [], [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()


def _open(page: Any, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.enbReady", timeout=30_000)
    assert page.evaluate("document.body.dataset.enbReady") == "1", page.inner_text("body")


def _offline_only(page: Any) -> None:
    assert all(url.split(":", 1)[0] in ("file", "data", "blob") for url in page.requests), (
        page.requests
    )
    assert page.dialogs == [] and page.evaluate("window.__pwned") is None
    assert page.locator("#enb-root script, #enb-root img[src='x']").count() == 0


def test_exported_projection_hover_lasso_offline(
    default_model: Any, tmp_path: Path, offline_page: Any
) -> None:
    texts = short_texts(1996) + HOSTILE
    # Labels: the ten most common first words, the rest "other", and one hostile label.
    words = [text.split()[0][:12] for text in texts[:-4]]
    common = {w for w, _ in Counter(words).most_common(10)}
    labels = [w if w in common else "other" for w in words] + ["<b>evil</b></script>"] * 4
    view = ProjectionView(default_model.embed(texts), texts, labels=labels, umap=False)
    path = view.to_html(tmp_path / "map.html")
    page = offline_page
    _open(page, path)
    root = page.locator(".enb-proj")
    page.wait_for_selector(".enb-proj[data-drawn]", timeout=30_000)
    page.wait_for_timeout(500)
    shot = root.screenshot(path=str(SCREENSHOTS / "export-projection.png"))
    assert nonblank_pixels(page, shot) > 5_000
    assert "<b>evil</b></script>" in page.locator(".enb-legend-row").inner_text()

    # Hover with the mouse over the loneliest point: its text shows, from the page alone.
    lone = loneliest_point(page, 2000)
    stage = page.locator(".enb-proj-stage").bounding_box()
    px, py = page.evaluate("(i) => document.querySelector('.enb-proj').enb.pixel(i)", lone)
    for dx in (0, 1, -1, 2):  # regl-scatterplot picks on mouse moves
        page.mouse.move(stage["x"] + px + dx, stage["y"] + py)
        page.wait_for_timeout(150)
    page.wait_for_selector(f'.enb-proj[data-hovered="{lone}"]', timeout=10_000)
    assert texts[lone][:40] in page.locator(".enb-tip").inner_text()

    # Hostile, right-to-left and emoji texts render as text.
    for k, text in enumerate(HOSTILE):
        index = 1996 + k
        page.evaluate("(i) => document.querySelector('.enb-proj').enb.scatterplot.hover(i)", index)
        page.wait_for_selector(f'.enb-proj[data-hovered="{index}"]', timeout=10_000)
        assert page.locator(".enb-tip .enb-text").inner_text() == text
    page.evaluate("() => document.querySelector('.enb-proj').enb.scatterplot.hover(-1)")
    page.mouse.move(stage["x"] + 5, stage["y"] + 5)

    # Lasso (shift-drag) round the middle of the map: the count shows.
    x0, y0 = stage["x"] + stage["width"] * 0.3, stage["y"] + stage["height"] * 0.3
    x1, y1 = stage["x"] + stage["width"] * 0.7, stage["y"] + stage["height"] * 0.7
    lasso(page, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    selected = page.evaluate(
        "() => document.querySelector('.enb-proj').enb.selectedPoints().length"
    )
    assert selected > 10
    page.get_by_text(f"{selected:,} selected", exact=True).wait_for(timeout=5_000)
    # The selection table lists the lassoed rows from the page alone, in point order.
    page.wait_for_function(
        "() => document.querySelector('.enb-table-body .enb-table-row .enb-table-td:nth-child(2)')"
        "?.textContent.length > 1"
    )
    first_id = min(page.evaluate("() => document.querySelector('.enb-proj').enb.selectedPoints()"))
    first_row = page.locator(".enb-table-body .enb-table-row").first.inner_text()
    assert texts[first_id][:30] in first_row and "needs the kernel" not in page.inner_text("body")
    root.screenshot(path=str(SCREENSHOTS / "export-lasso.png"))
    shutil.copy(SCREENSHOTS / "export-lasso.png", DOCS / "widgets-export.png")

    # A click lists the precomputed neighbours; a search says that it needs the kernel.
    page.locator(".enb-clear").click()
    page.evaluate("(i) => document.querySelector('.enb-proj').enb.scatterplot.select([i])", lone)
    page.wait_for_selector('.enb-proj[data-neighbors="10"]', timeout=10_000)
    first = int(page.locator(".enb-neighbors li").first.get_attribute("data-index"))
    assert first == int(view.nearest(lone)[0][0])
    page.locator(".enb-query").fill("sorting a list")
    page.locator(".enb-query").press("Enter")
    page.locator(".enb-results .enb-error").get_by_text("need the kernel").wait_for(timeout=5_000)
    _offline_only(page)
    assert page.errors == []


def test_exported_matrix_and_rerank_render(tmp_path: Path, offline_page: Any) -> None:
    texts = ["a cat sat", "a dog ran", *HOSTILE, "a car drove"]
    vectors = np.random.default_rng(1).normal(size=(len(texts), 16)).astype(np.float32)
    page = offline_page
    _open(page, SimilarityMatrix(vectors, texts).to_html(tmp_path / "matrix.html"))
    canvas = page.locator(".enb-sim-canvas")
    canvas.wait_for(timeout=10_000)
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_timeout(500)
    body = page.inner_text("body")
    assert any(text in body for text in texts), body
    root = page.locator(".enb-sim").first
    row_buttons = page.locator(".enb-sim button[data-row]")
    if row_buttons.count():  # a row's most similar texts, answered by the page
        row_buttons.first.click()
        page.locator(".enb-sim li[data-row]").first.wait_for(timeout=5_000)
    assert (
        nonblank_pixels(page, root.screenshot(path=str(SCREENSHOTS / "export-matrix.png"))) > 1_000
    )
    _offline_only(page)

    scores = np.arange(len(texts), dtype=np.float32)
    ranking = RerankList("cats", texts, model=lambda q, d: scores)
    _open(page, ranking.to_html(tmp_path / "rerank.html"))
    page.wait_for_selector(f'[data-rows="{len(texts)}"]', timeout=10_000)
    rows = page.locator(".enb-rr-row .enb-text").all_inner_texts()
    assert rows == texts[::-1]
    page.locator(".enb-query").fill("dogs")
    page.locator(".enb-query").press("Enter")
    page.get_by_text("need the kernel", exact=False).first.wait_for(timeout=5_000)
    _offline_only(page)
    assert page.errors == []

    # The same page inside nbconvert's HTML (--interactive), in a sandboxed iframe.
    import nbformat

    from embed_nb.widgets.export import StaticWidgetsHTMLExporter
    from embed_nb.widgets.html_export import OfflinePage

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(OfflinePage(ranking))")
    data = OfflinePage(ranking)._repr_mimebundle_()
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    notebook.cells = [cell]
    body, _ = StaticWidgetsHTMLExporter(interactive=True).from_notebook_node(notebook)
    exported = tmp_path / "notebook.html"
    exported.write_text(body, encoding="utf-8")
    page.goto(exported.as_uri())
    frame = page.frame_locator("iframe.embed-nb-offline")
    frame.locator(f'[data-rows="{len(texts)}"]').wait_for(timeout=15_000)
    assert frame.locator(".enb-rr-row .enb-text").all_inner_texts() == texts[::-1]
    assert page.evaluate("window.__pwned") is None and page.dialogs == []
