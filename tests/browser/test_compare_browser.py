"""CompareView in a real JupyterLab and in Notebook 7: two poolings of the real default model,
linked hover and a lasso on one side that selects the same points on both and in the kernel."""

from __future__ import annotations

from typing import Any

from conftest import Lab, lasso, nonblank_pixels, notebook_opener

CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import teaching_topics\n"
    "from embed_nb.widgets import CompareView\n"
    "pairs = teaching_topics()\n"
    "texts = [s for s, _ in pairs]\n"
    "texts[0] = '<img src=x onerror=\"window.__pwned=1\"> مرحبا 🐼'\n"
    "mean = embed_nb.load_model('all-minilm-l6-v2')\n"
    "cls = embed_nb.load_model('all-minilm-l6-v2', pooling='cls', name='minilm-cls')\n"
    "a, b = mean.embed(texts), cls.embed(texts)",
    "view = CompareView(a, b, k=5, names=('mean pooling', 'CLS pooling'))\nview",
]


def _check_linked(nb: Any, shot_name: str) -> None:
    page = nb.page
    root = page.locator(".enb-cmp")
    page.wait_for_selector(".enb-cmp[data-drawn='true']", timeout=60_000)
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    headline = root.locator(".enb-cmp-mean").inner_text()
    mean = nb.eval("round(view.mean_overlap, 2)")
    assert f"{mean:.2f} of 5" in headline
    stages = root.locator(".enb-cmp-stage")
    left = stages.nth(0).bounding_box()
    assert left is not None

    # Hover: the point under the mouse on the left is marked on the right too, and the tip
    # shows its text (escaped) from the kernel.
    handle = root.element_handle()
    x, y = handle.evaluate("(r) => r.enb.pixel(0, 0)")
    page.mouse.move(left["x"] + x, left["y"] + y)
    page.wait_for_function("() => document.querySelector('.enb-cmp').dataset.hovered !== undefined")
    hovered = int(handle.evaluate("(r) => r.dataset.hovered"))
    assert handle.evaluate("(r, i) => r.enb.hoveredOn(1)", hovered) == hovered
    tip = root.locator(".enb-tip").first
    tip.wait_for(state="visible")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.enb-cmp .enb-tip-text')].length > 0"
    )
    assert "neighbours shared" in tip.inner_text()
    if hovered == 0:
        assert "<img" in tip.inner_text()
    assert page.evaluate("() => window.__pwned === undefined")

    # A lasso over the left half of the left side: the same points selected on both sides and
    # in the kernel.
    page.mouse.move(left["x"] + left["width"] + 50, left["y"] - 30)
    x0, y0 = left["x"] + 5, left["y"] + 5
    x1, y1 = left["x"] + left["width"] / 2, left["y"] + left["height"] - 5
    lasso(page, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    count = nb.wait_for_kernel("len(view.selected)", timeout_s=30)
    kernel = sorted(nb.eval("[int(i) for i in view.selected]"))
    assert 0 < count < nb.eval("view.n_points")
    assert sorted(handle.evaluate("(r) => r.enb.selectedPoints(0)")) == kernel
    assert sorted(handle.evaluate("(r) => r.enb.selectedPoints(1)")) == kernel
    shot = nb.screenshot(root, shot_name)
    assert nonblank_pixels(page, shot.read_bytes()) > 10_000

    # From Python: both sides follow; Escape clears both and the kernel.
    nb.eval("view.__setattr__('selected', [1, 2, 3]) or 1")
    page.wait_for_function(
        "() => document.querySelector('.enb-cmp').enb.selectedPoints(1).length === 3"
    )
    root.focus()
    page.keyboard.press("Escape")
    nb.wait_for_kernel("len(view.selected) == 0", timeout_s=20)
    assert handle.evaluate("(r) => r.enb.selectedPoints(0).length") == 0


def test_compare_view_in_jupyterlab(notebook: Any) -> None:
    nb = notebook("compare.ipynb", CELLS)
    _check_linked(nb, "compare-lab.png")


def test_compare_view_in_notebook7(notebook7: Lab, browser: Any) -> None:
    with notebook_opener(notebook7, browser, "/notebooks/") as open_notebook:
        nb = open_notebook("compare7.ipynb", CELLS)
        _check_linked(nb, "compare-notebook7.png")
