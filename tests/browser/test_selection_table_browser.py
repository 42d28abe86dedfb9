"""The ProjectionView's selection table in a real JupyterLab: lasso -> table -> view.selection,
and back; sorting by a numeric column in the kernel; a row's neighbours one click away; the
keyboard (arrows move the row focus, Enter centres the point); hostile, right-to-left and
emoji texts shown as text."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import SCREENSHOTS, lasso

EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'
RTL = "שלום עולם, זהו משפט בעברית"
EMOJI = "party time 🎉🐱 with emoji"
DOCS = Path(__file__).resolve().parents[2] / "docs"

CELLS = [
    "import numpy as np, pandas as pd\n"
    "import embed_nb\n"
    "from embed_nb.datasets import short_texts, teaching_topics\n"
    "from embed_nb.widgets import ProjectionView\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')",
    "pairs = teaching_topics()\n"
    f"texts = [s for s, _ in pairs] + short_texts(200) + [{EVIL!r}, {RTL!r}, {EMOJI!r}]\n"
    "topics = [t for _, t in pairs] + ['stdlib'] * 200 + ['evil', 'rtl', 'emoji']\n"
    "names = [f'doc{i}' for i in range(len(texts) - 3)] + ['evil', 'rtl', 'emoji']\n"
    "rng = np.random.default_rng(7)\n"
    "df = pd.DataFrame({'text': texts, 'topic': topics,\n"
    "                   'stars': rng.integers(1, 100, len(texts)),\n"
    "                   'length': [float(len(t)) for t in texts]}, index=names)\n"
    "w = ProjectionView(embed_nb.embed(df['text'], model=model), frame=df, model=model,\n"
    "                   labels=topics, umap=False)\n"
    "w",
]

SELECTED_IN_VIEW = (
    "() => document.querySelector('.enb-proj').enb.selectedPoints().sort((a, b) => a - b)"
)


def _shown_rows(page: Any) -> list[dict[str, Any]]:
    """The table rows in the DOM that have their data, top to bottom."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.enb-table-body > .enb-table-row[data-index]')]
            .map(r => ({rank: +r.dataset.rank, index: +r.dataset.index,
                        cells: [...r.querySelectorAll('.enb-table-td')].map(c => c.textContent),
                        top: r.getBoundingClientRect().top}))
            .sort((a, b) => a.rank - b.rank)"""
    )


def _wait_rows(page: Any, total: int) -> None:
    page.wait_for_selector(f".enb-table[data-total='{total}']", timeout=20_000)
    page.wait_for_function(
        "() => +document.querySelector('.enb-table').dataset.loaded > 0", timeout=20_000
    )


def test_selection_table_both_ways(notebook: Any) -> None:
    nb = notebook("selection_table.ipynb", CELLS)
    page = nb.page
    root = page.locator(".enb-proj")
    page.wait_for_selector(".enb-proj[data-drawn='pca']", timeout=60_000)
    nb.dismiss_toasts()
    table = page.locator(".enb-table")
    assert "No selection" in table.inner_text()

    # Lasso on the map: the table lists the selected rows, in point order, and view.selection
    # in the kernel is those rows of the frame.
    stage = page.locator(".enb-proj-stage").bounding_box()
    left, top = stage["x"] + stage["width"] * 0.2, stage["y"] + stage["height"] * 0.2
    right, bottom = stage["x"] + stage["width"] * 0.8, stage["y"] + stage["height"] * 0.8
    lasso(page, [(left, top), (right, top), (right, bottom), (left, bottom)])
    nb.wait_for_kernel("len(w.selected) > 12")
    selected = nb.eval("w.selected.tolist()")
    assert page.evaluate(SELECTED_IN_VIEW) == selected
    _wait_rows(page, len(selected))
    rows = _shown_rows(page)
    assert [r["index"] for r in rows] == selected[: len(rows)]
    labels = nb.eval("w.selection.index.tolist()")
    assert labels == nb.eval(f"df.index[{selected}].tolist()")
    assert [r["cells"][0] for r in rows] == labels[: len(rows)]
    texts = nb.eval(f"[df.text.iloc[i][:30] for i in {selected[:3]}]")
    for row, text in zip(rows, texts, strict=False):
        assert row["cells"][1].startswith(text)
    assert page.locator(".enb-table-th").all_inner_texts()[:5] == [
        "# ▲",
        "text",
        "topic",
        "stars",
        "length",
    ]

    # Sort by a numeric column: by number (not as text), in the kernel, both directions.
    page.locator(".enb-table-sort[data-column='1']").click()
    page.wait_for_selector(".enb-table[data-sort='1:asc']")
    page.wait_for_timeout(300)
    _wait_rows(page, len(selected))
    expected = nb.eval("w.selection.sort_values('stars', kind='stable').stars.tolist()")
    shown = [int(r["cells"][3]) for r in _shown_rows(page)]
    assert shown == expected[: len(shown)] and shown == sorted(shown)
    page.locator(".enb-table-sort[data-column='1']").click()
    page.wait_for_selector(".enb-table[data-sort='1:desc']")
    page.wait_for_function(
        "(top) => { const r = document.querySelector('.enb-table-row[data-rank=\"0\"]');"
        " return r && r.dataset.index && +r.querySelectorAll('.enb-table-td')[3].textContent"
        " === top; }",
        arg=max(expected),
    )
    assert page.locator(".enb-table-th[aria-sort='descending']").inner_text() == "stars ▼"

    # Keyboard: focus the table, arrows move the row focus (visible), Enter centres the point.
    first = page.locator(".enb-table-row[data-rank='0']")
    first_index = int(first.get_attribute("data-index"))
    first.click()
    nb.wait_for_kernel(f"w.focused == {first_index}")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector(".enb-table[data-cursor='2']")
    cursor = page.locator(".enb-table-row.enb-cursor")
    assert cursor.get_attribute("data-rank") == "2"
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('.enb-table-row.enb-cursor')).outlineStyle"
        )
        == "solid"
    )
    third = int(cursor.get_attribute("data-index"))
    page.keyboard.press("Enter")
    nb.wait_for_kernel(f"w.focused == {third}")
    assert nb.eval("len(w.selected)") == len(selected)  # the notebook kept its cells and rows
    page.keyboard.press("ArrowUp")
    page.wait_for_selector(".enb-table[data-cursor='1']")

    # A row's neighbours are one click away: the kernel's k nearest, listed under the row.
    second = page.locator(".enb-table-row[data-rank='1']")
    second_index = int(second.get_attribute("data-index"))
    second.locator(".enb-table-nbrs-button").click()
    nb.wait_for_kernel(f"w.focused == {second_index}")
    page.wait_for_selector(".enb-table[data-neighbors='10']", timeout=20_000)
    listed = page.evaluate(
        "() => [...document.querySelectorAll('.enb-table-nbrs li')].map(li => +li.dataset.index)"
    )
    assert listed == nb.eval(f"w.nearest({second_index})[0].tolist()")
    nb.screenshot(root, "projection-table.png")
    page.keyboard.press("ArrowLeft")  # closes them
    page.wait_for_function("() => !document.querySelector('.enb-table-nbrs')")

    # From Python: a selection of frame rows highlights the points, and the table (still sorted
    # by stars, descending) scrolls to the first of them.
    nb.eval("setattr(w, 'selection', df[df.topic == 'stdlib'].iloc[40:]) or 0")
    wanted = nb.eval("w.selected.tolist()")
    assert len(wanted) == 160
    page.wait_for_function(
        f"() => document.querySelector('.enb-proj').enb.selectedPoints().length === {len(wanted)}"
    )
    assert page.evaluate(SELECTED_IN_VIEW) == wanted
    page.wait_for_selector(f".enb-table[data-scrolled-to='{wanted[0]}']", timeout=20_000)
    rank = nb.eval(
        "list(w.selection.sort_values('stars', ascending=False, kind='stable').index)"
        f".index(df.index[{wanted[0]}])"
    )
    assert page.locator(".enb-table").get_attribute("data-cursor") == str(rank)
    row = page.locator(f".enb-table-row[data-index='{wanted[0]}']")
    row.wait_for(timeout=10_000)
    assert "enb-cursor" in (row.get_attribute("class") or "")
    box = page.locator(".enb-table-scroll").bounding_box()
    at = row.bounding_box()
    assert box["y"] < at["y"] < box["y"] + box["height"]  # scrolled into the table's view
    # 160 selected rows, but only the visible ones (and a margin) are in the DOM.
    assert page.locator(".enb-table-body > .enb-table-row").count() < 60

    # Hostile, right-to-left and emoji texts: shown as text, nothing runs.
    nb.eval("setattr(w, 'selection', ['evil', 'rtl', 'emoji']) or 0")
    _wait_rows(page, 3)
    page.wait_for_function("() => +document.querySelector('.enb-table').dataset.loaded === 3")
    cells = page.evaluate(
        "() => [...document.querySelectorAll('.enb-table-text')].map(c => c.textContent)"
    )
    assert sorted(cells) == sorted([EVIL, RTL, EMOJI])
    assert page.locator(".enb-table img, .enb-table script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None
    rtl_dir = page.evaluate(
        "(t) => { const c = [...document.querySelectorAll('.enb-table-text')]"
        ".find(c => c.textContent === t); return getComputedStyle(c).direction; }",
        RTL,
    )
    assert rtl_dir == "rtl"
    # The hostile row's neighbours, and its label in the list heading, stay text too.
    page.locator(".enb-table-row[data-index] .enb-table-nbrs-button").first.click()
    page.wait_for_selector(".enb-table[data-neighbors='10']", timeout=20_000)
    assert page.locator(".enb-table img, .enb-table script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None

    # Escape in the table clears the selection, on the map and in the kernel.
    page.locator(".enb-table-scroll").focus()
    page.keyboard.press("Escape")  # closes the neighbours first
    page.keyboard.press("Escape")
    nb.wait_for_kernel("len(w.selected) == 0")
    page.wait_for_function(
        "() => document.querySelector('.enb-proj').enb.selectedPoints().length === 0"
    )
    assert "No selection" in table.inner_text()

    # The screenshot (taken with the neighbours open, above) documents the table.
    shutil.copyfile(SCREENSHOTS / "projection-table.png", DOCS / "widgets-table.png")
