"""ProjectionView with image points in a real JupyterLab: the hover tooltip shows the point's
thumbnail, whose bytes came from the kernel over the comm (an object URL made in the page,
never a URL fetched from a server); the query's hits list thumbnails; with the thumbnails
toggle on, zooming in replaces the dots by pictures; captions never inject markup."""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path
from typing import Any

from conftest import SCREENSHOTS, hover_point, loneliest_point, nonblank_pixels, stage_point

DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "widgets-thumbnails.png"
EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'

CELLS = [
    "import numpy as np\n"
    "from tests.synthetic_images import COLOURS, collection\n"
    "from embed_nb.widgets import ProjectionView\n"
    "images, vectors, captions, labels = collection(40)\n"
    "shapes = [c.split()[-1] for c in captions]  # dots coloured by shape, clustered by colour\n"
    f"captions[-1] = {EVIL!r}\n"
    "centres = {c: vectors[i] for i, c in enumerate(COLOURS)}\n"
    "def by_colour(texts):  # the query box's model: a colour name -> its cluster's centre\n"
    "    return np.stack([centres.get(t.strip(), vectors.mean(0)) for t in texts])\n"
    "w = ProjectionView(vectors, captions, images=images, labels=shapes, model=by_colour,\n"
    "                   umap=False, k=8)\n"
    "w",
]

PROJ = "document.querySelector('.enb-proj')"


def _shown_bytes(page: Any, selector: str) -> tuple[str, str]:
    """The ``src`` of the first image matching ``selector`` and its bytes (base64), read back
    in the page itself."""
    return tuple(
        page.evaluate(
            """async (selector) => {
                const img = document.querySelector(selector);
                const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                let text = '';
                bytes.forEach((b) => { text += String.fromCharCode(b); });
                return [img.src, btoa(text)];
            }""",
            selector,
        )
    )


def test_projection_view_thumbnails(notebook: Any) -> None:
    started = time.perf_counter()
    nb = notebook("thumbnails.ipynb", CELLS)
    page = nb.page
    fetched: list[str] = []  # every image the page asks a server for
    page.on("request", lambda r: fetched.append(r.url) if r.resource_type == "image" else None)
    root = page.locator(".enb-proj")
    page.wait_for_selector(".enb-proj[data-drawn='pca']", timeout=30_000)
    nb.dismiss_toasts()
    n = nb.eval("w.n_points")
    assert n == 40 and nb.eval("int(w.image_mask.sum())") == 40

    # Hover an image point: the tooltip shows its thumbnail above the caption, and the bytes
    # behind the <img> are exactly those the kernel made for that point.
    lone = loneliest_point(page, n - 1)  # not the hostile caption: it has its own check
    tip = page.locator(".enb-proj .enb-tip")
    hover_point(nb, lone, "projection-thumbnails-hover-failed.png")
    thumb = tip.locator("img.enb-thumb")
    thumb.wait_for(state="visible", timeout=5_000)
    assert thumb.get_attribute("data-index") == str(lone)
    assert page.evaluate(f"{PROJ}.querySelector('.enb-tip img.enb-thumb').naturalWidth") > 0
    src, shown = _shown_bytes(page, ".enb-proj .enb-tip img.enb-thumb")
    assert src.startswith("blob:")  # made in the page from the comm's bytes
    kernel = nb.eval(f"__import__('base64').b64encode(w.thumbnail({lone})).decode()")
    assert shown == kernel
    assert base64.b64decode(shown)[:3] == b"\xff\xd8\xff"
    caption = nb.eval(f"w.texts[{lone}]")
    assert caption in tip.inner_text()
    # The picture sits above the caption.
    assert thumb.bounding_box()["y"] < tip.get_by_text(caption).bounding_box()["y"]
    nb.screenshot(root, "projection-thumbnails-hover.png")
    page.mouse.move(0, 0)

    # The hostile caption of an image point is shown as text: no markup runs.
    page.evaluate(f"(i) => {PROJ}.enb.scatterplot.hover(i)", n - 1)
    tip.get_by_text("onerror", exact=False).wait_for(timeout=5_000)
    tip.locator("img.enb-thumb").wait_for(timeout=5_000)
    assert page.locator(".enb-proj .enb-tip img:not(.enb-thumb), .enb-proj script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None
    page.evaluate(f"() => {PROJ}.enb.scatterplot.hover(-1)")

    # The query box: the hits are listed with their thumbnails.
    box = page.locator(".enb-query")
    box.fill("blue")
    box.press("Enter")
    page.wait_for_selector(".enb-proj[data-query-hits='8']", timeout=20_000)
    hits = nb.eval("w.query_hits.tolist()")
    assert all(label == "blue" for label in nb.eval(f"[labels[i] for i in {hits}]"))
    page.wait_for_function(
        f"() => {PROJ}.querySelectorAll('.enb-results li img.enb-thumb').length === 8"
    )
    src, shown = _shown_bytes(page, ".enb-proj .enb-results li img.enb-thumb")
    assert src.startswith("blob:")
    assert shown == nb.eval(f"__import__('base64').b64encode(w.thumbnail({hits[0]})).decode()")
    box.fill("")
    box.press("Enter")
    nb.wait_for_kernel("w.query == ''")

    # Thumbnails in place of dots: none while off, none at the full view (the colour
    # clusters are too tight for them to fit), then the user zooms in on a cluster.
    assert root.get_attribute("data-thumbs-drawn") in (None, "0")
    toggle = page.locator(".enb-thumb-toggle input")
    toggle.check()
    nb.wait_for_kernel("w.thumbnails")
    page.wait_for_timeout(300)
    assert root.get_attribute("data-thumbs-drawn") == "0"
    before = nb.eval("w._thumbs.made")
    cluster = nb.eval("[i for i, c in enumerate(labels) if c == 'green']")
    # As a user would: drag the green cluster to the middle, then zoom with the mouse wheel.
    stage = page.locator(".enb-proj-stage").bounding_box()
    middle = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    points = [stage_point(page, i) for i in cluster]
    centre = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
    page.mouse.move(centre[0] + 12, centre[1] + 12)  # beside the dots: a drag, not a lasso
    page.mouse.down()
    page.mouse.move(middle[0] + 12, middle[1] + 12, steps=12)
    page.mouse.up()
    page.wait_for_timeout(300)
    for _ in range(40):
        page.mouse.move(*middle)
        page.mouse.wheel(0, -240)
        page.wait_for_timeout(120)
        if int(root.get_attribute("data-thumbs-drawn") or 0) >= 4:
            break
    for _ in range(2):  # a little closer, so that the pictures are a good size
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(120)
    page.mouse.move(0, 0)  # no tooltip over the pictures
    page.wait_for_timeout(800)  # the last batch of thumbnails lands and is drawn
    drawn = int(root.get_attribute("data-thumbs-drawn") or 0)
    assert drawn >= 4, f"no thumbnails drawn after zooming in ({drawn})"
    layout = page.evaluate(f"() => {PROJ}.enb.thumbLayout()")
    assert layout is not None and len(layout["visible"]) <= 150
    assert set(cluster) & {v[0] for v in layout["visible"]}
    # Only the visible ones were asked for and made (plus those already cached).
    made = nb.eval("w._thumbs.made")
    assert made - before <= len(layout["visible"])
    shot = nb.screenshot(root, "projection-thumbnails-zoomed.png")
    assert nonblank_pixels(page, shot.read_bytes()) > 5_000
    # The thumbnails are drawn on the marks canvas over the dots: it has the pictures' green.
    green = page.evaluate(
        f"""() => {{
            const c = {PROJ}.querySelector('.enb-proj-marks');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let count = 0;
            for (let k = 0; k < px.length; k += 4)
                if (px[k + 3] > 200 && px[k + 1] > 140 && px[k] < 90 && px[k + 2] < 110) count++;
            return count;
        }}"""
    )
    assert green > 200
    # Toggled off: dots again.
    toggle.uncheck()
    nb.wait_for_kernel("not w.thumbnails")
    page.wait_for_function(f"() => {PROJ}.dataset.thumbsDrawn === '0'")
    DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCREENSHOTS / "projection-thumbnails-zoomed.png", DOCS_SHOT)

    assert not [u for u in fetched if not u.startswith(("blob:", "data:"))], fetched
    assert page.evaluate("window.__enb_pwned") is None
    print(f"thumbnails browser test: {time.perf_counter() - started:.1f} s")
