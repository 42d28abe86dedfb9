"""ProjectionView's map in a real JupyterLab: labels on the map (escaped, fewer when zoomed
out), colour by a numeric and a categorical column, density contours, the filter box, and
Escape clearing the selection."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import SCREENSHOTS, nonblank_pixels, pixel_rgb

EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'
DOCS = Path(__file__).resolve().parents[2] / "docs"
ROOT = "document.querySelector('.enb-proj')"

# Six real topics from the default model (the point texts and their categories), plus one
# lone point with the highest score, far from the rest, so that its pixel is its own.
CELLS = [
    "import numpy as np, pandas as pd\n"
    "import embed_nb\n"
    "from embed_nb.datasets import teaching_topics\n"
    "from embed_nb.widgets import ProjectionView\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')\n"
    "pairs = teaching_topics()\n"
    "texts = [s for s, _ in pairs]\n"
    "topics = [t for _, t in pairs]\n"
    "vectors = np.asarray(model.embed(texts))\n"
    "far = vectors.mean(0) - 3 * (vectors[0] - vectors.mean(0))\n"
    "vectors = np.vstack([vectors, far[None]])\n"
    "texts.append('مرحبا 👋 the lone point')\n"
    "topics.append(topics[0])\n"
    "n = len(texts)\n"
    "frame = pd.DataFrame({'topic': topics, 'length': [len(t) for t in texts]})\n"
    "frame.loc[n - 1, 'length'] = 150  # the highest value: the end of the colour map\n"
    "frame.loc[3, 'length'] = np.nan  # drawn grey, as missing",
    "w = ProjectionView(vectors, texts, frame=frame, labels=topics, model=model, umap=False,\n"
    f"                   cluster_labels={{topics[1]: {EVIL!r}}})\n"
    "w",
]


def _labels(page: Any) -> int:
    return int(page.evaluate(f"{ROOT}.enb.labelCount()"))


def test_projection_map_labels_colour_contours_filter(notebook: Any) -> None:
    nb = notebook("projection_map.ipynb", CELLS)
    page = nb.page
    root = page.locator(".enb-proj")
    page.wait_for_selector(".enb-proj[data-drawn='pca']", timeout=60_000)
    nb.dismiss_toasts()

    # Labels: one per topic on the map, placed without overlap; the hostile one is text.
    n_topics = nb.eval("len(set(topics))")
    page.wait_for_function(f"() => {ROOT}.enb.labelCount() > 0", timeout=10_000)
    shown = _labels(page)
    assert 2 <= shown <= n_topics
    labels = page.locator(".enb-map-label:not([hidden])")
    boxes = [labels.nth(k).bounding_box() for k in range(labels.count())]
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            p, q = boxes[a], boxes[b]
            assert (
                p["x"] + p["width"] <= q["x"]
                or q["x"] + q["width"] <= p["x"]
                or p["y"] + p["height"] <= q["y"]
                or q["y"] + q["height"] <= p["y"]
            ), "labels overlap"
    assert page.locator(".enb-map-labels").get_by_text("onerror", exact=False).count() == 1
    assert page.locator(".enb-map-labels img, .enb-map-labels script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None

    # Zoomed far out the centres crowd together: fewer labels fit.
    page.evaluate(f"{ROOT}.enb.scatterplot.zoomToArea({{x: -12, y: -12, width: 24, height: 24}})")
    page.wait_for_timeout(600)
    zoomed_out = _labels(page)
    assert zoomed_out < shown
    page.evaluate(f"{ROOT}.enb.scatterplot.reset()")
    page.wait_for_function(f"() => {ROOT}.enb.labelCount() === {shown}", timeout=5_000)
    shot = nb.screenshot(root, "projection-labels.png")
    assert nonblank_pixels(page, shot.read_bytes()) > 5_000
    shutil.copyfile(shot, DOCS / "widgets-projection.png")

    # Contours: the kernel's iso-lines drawn over the points (toggled in the view).
    page.locator(".enb-contour-toggle input").check()
    nb.wait_for_kernel("w.contours and w.contour_lines is not None")
    page.wait_for_function(f"() => Number({ROOT}.dataset.contours) > 20", timeout=10_000)

    # Colour by a numeric column: a colour bar, and the highest value drawn as the map's end.
    page.select_option(".enb-color-by", "length")
    nb.wait_for_kernel("w.color_scale == 'viridis'")
    page.locator(".enb-colorbar").wait_for(timeout=10_000)
    assert page.locator(".enb-colorbar-missing").inner_text().startswith("missing (1)")
    page.locator(".enb-contour-toggle input").uncheck()
    page.wait_for_timeout(800)
    lone = nb.eval("n - 1")
    px, py = page.evaluate(f"(i) => {ROOT}.enb.pixel(i)", lone)
    stage = page.locator(".enb-proj-stage")
    picture = stage.screenshot()
    r, g, b = pixel_rgb(page, picture, px, py)
    # viridis' end is #fde725, drawn at 85% opacity on white.
    expected = [round(c * 0.85 + 255 * 0.15) for c in (0xFD, 0xE7, 0x25)]
    assert max(abs(u - v) for u, v in zip((r, g, b), expected, strict=True)) < 30, (r, g, b)
    shot = nb.screenshot(root, "projection-colorby.png")
    shutil.copyfile(shot, DOCS / "widgets-colorby.png")

    # Colour by a categorical column: a legend entry per topic.
    page.select_option(".enb-color-by", "topic")
    nb.wait_for_kernel("w.color_by == 'topic' and w.color_scale == ''")
    page.wait_for_function(
        f"() => document.querySelectorAll('.enb-proj .enb-cat').length === {n_topics}"
    )
    assert page.locator(".enb-colorbar").count() == 0

    # The filter box: points not matching are dimmed; Python sees the mask.
    box = page.locator(".enb-filter")
    box.fill(f"topic={nb.eval('topics[0]')}")
    box.press("Enter")
    expected_count = nb.eval("topics.count(topics[0])")
    nb.wait_for_kernel(f"w.filter_count == {expected_count}")
    page.wait_for_selector(f".enb-proj[data-filtered='{expected_count}']", timeout=10_000)
    dim_x, dim_y = page.evaluate(
        f"(i) => {ROOT}.enb.pixel(i)", nb.eval("topics.index(sorted(set(topics))[-1])")
    )
    dim = pixel_rgb(page, stage.screenshot(), dim_x, dim_y)
    assert min(dim) > 200, dim  # faded towards white
    box.press("Escape")  # clears the filter
    nb.wait_for_kernel("w.filter == '' and w.filter_mask is None")

    # Escape clears the selection (focus on the map after a selection from Python).
    nb.eval("setattr(w, 'selected', [0, 1, 2]) or 0")
    page.wait_for_function(f"() => {ROOT}.enb.selectedPoints().length === 3")
    stage.focus()
    page.keyboard.press("Escape")
    nb.wait_for_kernel("len(w.selected) == 0")
    assert page.evaluate(f"{ROOT}.enb.selectedPoints().length") == 0
    # The controls show where the keyboard focus is.
    box.focus()
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert page.evaluate("window.__enb_pwned") is None
    assert SCREENSHOTS.exists()
