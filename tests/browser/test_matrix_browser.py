"""Issue 15 in a real JupyterLab: SimilarityMatrix axis labels, cell values, threshold and a
row's most similar texts; RerankList's readable score, marked query words; keyboard use of
both ranked lists; hostile markup shown as text, never run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import SCREENSHOTS

DOCS = Path(__file__).resolve().parents[2] / "docs"
EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'
RTL_EMOJI = "שלום עולם 🐼 مرحبا panda"

# The WCAG contrast of an element's text colour against what lies behind it (the first
# ancestor with a background, composited over white), computed by the browser itself.
CONTRAST = """(node) => {
    const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const over = (top, under) => {
        const a = top.length > 3 ? top[3] : 1;
        return [0, 1, 2].map((k) => top[k] * a + under[k] * (1 - a));
    };
    let back = [255, 255, 255];
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
        const bg = parse(getComputedStyle(n).backgroundColor);
        if (bg.length && (bg.length < 4 || bg[3] > 0)) layers.push(bg);
        if (bg.length && (bg.length < 4 || bg[3] === 1)) break;
    }
    for (const layer of layers.reverse()) back = over(layer, back);
    const fore = over(parse(getComputedStyle(node).color), back);
    const lum = (rgb) => {
        const [r, g, b] = rgb.map((c) => {
            const s = c / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [hi, lo] = [lum(fore), lum(back)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
}"""

MATRIX_CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import teaching_topics\n"
    "from embed_nb.widgets import SimilarityMatrix\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')",
    # A small matrix (values in the cells) with hostile, right-to-left and emoji labels.
    "small_texts = ['The cat sits on the mat', 'A feline rests on the rug', "
    f"{RTL_EMOJI!r}, {EVIL!r}]\n"
    "small = SimilarityMatrix(model.embed(small_texts), order='input')\n"
    "small",
    # The teaching matrix: 42 labelled rows (labels on the axes, no values).
    "texts = [s for s, _ in teaching_topics()]\n"
    "big = SimilarityMatrix(model.embed(texts), threshold=0.3)\n"
    "big",
]


def test_matrix_labels_values_threshold_and_similar_texts(notebook: Any) -> None:
    nb = notebook("matrix15.ipynb", MATRIX_CELLS)
    page = nb.page
    small = page.locator(".enb-sim").nth(0)
    big = page.locator(".enb-sim").nth(1)
    small.locator(".enb-sim-value").first.wait_for(timeout=30_000)
    big.locator(".enb-sim-rowlabel").first.wait_for(timeout=30_000)
    nb.dismiss_toasts()

    # Labels on both axes, as text: the hostile one shown, never run; RTL and emoji intact.
    labels = nb.eval("small.axis_labels")
    assert small.locator(".enb-sim-rowlabel").all_inner_texts() == labels
    assert [c.text_content() for c in small.locator(".enb-sim-collabel").all()] == labels
    assert RTL_EMOJI in labels and any("onerror" in label for label in labels)
    for label in small.locator(".enb-sim-rowlabel").all():
        assert label.is_visible()
    assert page.locator(".enb-sim img, .enb-sim script").count() == 0

    # The value in each cell is the exact score, in a colour with AA contrast on the cell's
    # colour, and that colour is what the canvas drew there.
    values = small.locator(".enb-sim-value")
    assert values.count() == 16
    scores = nb.eval("[[round(float(x), 6) for x in row] for row in small.scores]")
    cell = small.locator(".enb-sim-value[data-row='0'][data-col='1']")
    assert cell.inner_text() == f"{scores[0][1]:.2f}"
    checks = small.evaluate(
        """(root) => {
            const canvas = root.querySelector('.enb-sim-canvas');
            const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            return [...root.querySelectorAll('.enb-sim-value')].map((span) => {
                const k = 4 * (Number(span.dataset.row) * canvas.width + Number(span.dataset.col));
                const drawn = `rgb(${px[k]},${px[k + 1]},${px[k + 2]})`;
                const text = getComputedStyle(span).color.match(/\\d+/g).map(Number);
                const bg = span.dataset.bg.match(/\\d+/g).map(Number);
                const lum = (rgb) => 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
                function f(c) {
                    const s = c / 255;
                    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
                }
                const [hi, lo] = [lum(text), lum(bg)].sort((x, y) => y - x);
                return { drawn, bg: span.dataset.bg, ratio: (hi + 0.05) / (lo + 0.05) };
            });
        }"""
    )
    assert all(c["drawn"] == c["bg"] for c in checks), checks
    assert min(c["ratio"] for c in checks) >= 4.5, checks

    # Threshold from Python greys the cells below it (canvas pixels and the value colours).
    below = sum(s < 0.5 for row in scores for s in row)
    assert below > 0
    nb.eval("setattr(small, 'threshold', 0.5) or 0")
    page.wait_for_function(
        f"() => document.querySelectorAll('.enb-sim')[0].dataset.greyed === '{below}'",
        timeout=10_000,
    )
    assert small.locator(".enb-sim-value.enb-sim-below").count() == below
    row, col = next((r, c) for r in range(4) for c in range(4) if scores[r][c] < 0.5)
    pixel = small.evaluate(
        f"""(root) => [...root.querySelector('.enb-sim-canvas').getContext('2d')
            .getImageData({col}, {row}, 1, 1).data].slice(0, 3)"""
    )
    assert pixel == [224, 224, 224]
    # ... and from the slider, back to Python.
    small.locator(".enb-sim-threshold").fill("0.9")
    assert nb.wait_for_kernel("abs(small.threshold - 0.9) < 1e-9")

    # Click a row label: its most similar texts are listed, best first.
    small.locator(".enb-sim-rowlabel").nth(0).click()
    assert nb.wait_for_kernel("small.focused == 0") is True
    items = small.locator(".enb-sim-similar-list li")
    items.nth(2).wait_for(timeout=10_000)
    expected = nb.eval("[i for i, _ in small.most_similar(0)]")
    assert [int(li.get_attribute("data-index")) for li in items.all()] == expected
    assert "A feline rests on the rug" in items.first.inner_text()

    # Keyboard: arrows step through the list, Enter pins the pair, Escape clears the row.
    items.first.focus()
    page.keyboard.press("ArrowDown")
    active = page.evaluate("document.activeElement.dataset.index")
    assert int(active) == expected[1]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert nb.wait_for_kernel("small.pinned") == [0, expected[1]]
    page.keyboard.press("Escape")
    assert nb.wait_for_kernel("small.focused is None") is True
    assert page.evaluate("document.activeElement.dataset.row") == "0"  # back on the label
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == labels[1]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert nb.wait_for_kernel("small.focused == 1") is True
    nb.screenshot(small, "similarity-matrix-values.png")

    # The 42-row matrix: every row and column labelled, no values, threshold from the start.
    n = nb.eval("big.size")
    assert big.locator(".enb-sim-rowlabel").count() == n == 42
    assert big.locator(".enb-sim-collabel").count() == n
    assert big.locator(".enb-sim-value").count() == 0
    greyed = nb.eval("int((big.scores < 0.3).sum())")
    assert big.get_attribute("data-greyed") == str(greyed)
    cat = big.locator(".enb-sim-rowlabel", has_text="The cat sits on the mat")
    cat.click()
    big.locator(".enb-sim-similar-list li").nth(4).wait_for(timeout=10_000)
    listed = big.locator(".enb-sim-similar-list").inner_text()
    assert "feline" in listed or "kitten" in listed
    nb.screenshot(big, "similarity-matrix-labels.png")
    assert page.evaluate("window.__enb_pwned") is None
    for name, doc in [
        ("similarity-matrix-labels.png", "widgets-similarity.png"),
        ("similarity-matrix-values.png", "widgets-similarity-values.png"),
    ]:
        shutil.copyfile(SCREENSHOTS / name, DOCS / doc)


RERANK_CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import panda_example\n"
    "from embed_nb.widgets import RerankList\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')\n"
    "query, docs = panda_example()\n"
    f"docs = docs + [{EVIL!r}, {RTL_EMOJI!r}, 'Pandas is a Python library (not a PANDA)']\n"
    "w = RerankList(query, docs, model=model, top_n=7)\n"
    "w",
]


def test_rerank_score_contrast_marks_and_keyboard(notebook: Any) -> None:
    nb = notebook("rerank15.ipynb", RERANK_CELLS)
    page = nb.page
    root = page.locator(".enb-rr")
    page.wait_for_selector(".enb-rr[data-rows='7'] .enb-rr-score", timeout=30_000)
    nb.dismiss_toasts()
    rows = root.locator(".enb-rr-row")
    ranking = nb.eval("w.ranking")
    assert [int(r.get_attribute("data-index")) for r in rows.all()] == ranking[:7]

    # The score: its own cell beside the bar (not on it), with AA contrast.
    scores = root.locator(".enb-rr-score")
    assert scores.first.inner_text() == f"{nb.eval('float(w.result.hits[0].score)'):.4f}"
    assert root.locator(".enb-bar span").count() == 0
    ratios = [s.evaluate(CONTRAST) for s in scores.all()]
    assert min(ratios) >= 4.5, ratios

    # The query's words are marked (whole words, any case), stop words are not.
    marks = root.locator("mark.enb-hit")
    assert marks.count() >= 4
    assert {m.lower() for m in marks.all_inner_texts()} == {"panda"}
    giant = rows.filter(has_text="The giant panda")
    assert giant.locator("mark").count() == 3  # "panda" three times, "(Ailuropoda" not
    assert rows.filter(has_text="Pandas is a Python").locator("mark").all_inner_texts() == ["PANDA"]
    assert min(m.evaluate(CONTRAST) for m in marks.all()) >= 4.5

    # Hostile markup and RTL/emoji text shown as text, never run.
    assert "onerror" in root.inner_text() and RTL_EMOJI in root.inner_text()
    assert page.locator(".enb-rr img, .enb-rr-list script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None

    # Keyboard: ArrowDown from the query box enters the list, arrows step, Enter selects,
    # Escape clears and returns to the box; the focus ring shows.
    root.locator(".enb-query").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert int(page.evaluate("document.activeElement.dataset.index")) == ranking[1]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert nb.wait_for_kernel(f"w.selected == {ranking[1]}") is True
    assert rows.nth(1).get_attribute("aria-selected") == "true"
    nb.screenshot(root, "rerank-list-readable.png")
    page.keyboard.press("Escape")
    assert nb.wait_for_kernel("w.selected == -1") is True
    assert page.evaluate("document.activeElement.classList.contains('enb-query')")
    shutil.copyfile(SCREENSHOTS / "rerank-list-readable.png", DOCS / "widgets-rerank.png")
