"""Issue 15: SimilarityMatrix axis labels, cell values, threshold and most similar texts;
RerankList's selection and the contrast of the colours both views use (WCAG AA)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed_nb.errors import InvalidInputError
from embed_nb.widgets import RerankList, SimilarityMatrix
from embed_nb.widgets._static import viridis
from embed_nb.widgets.similarity import (
    AXIS_LABEL_CHARS,
    AXIS_LABEL_MAX_ROWS,
    BELOW_THRESHOLD_RGB,
)

ROOT = Path(__file__).resolve().parents[2]
CSS = (ROOT / "js" / "src" / "widgets.css").read_text(encoding="utf-8")
EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>alert(1)</script>'


def vectors(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def replies(widget: Any, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)
    for message in messages:
        widget._dispatch(widget, message, [])
    return sent


# --- SimilarityMatrix: axis labels ------------------------------------------------------


def test_axis_labels_are_clipped_texts_in_display_order() -> None:
    texts = ["short", "a  long\ntext " * 20, EVIL]
    w = SimilarityMatrix(vectors(3), texts, order="cluster")
    assert len(w.axis_labels) == 3
    for row, label in zip(w.shown, w.axis_labels, strict=True):
        # One line, cut with an ellipsis; markup kept as text (the view uses textContent).
        assert "\n" not in label and len(label) <= AXIS_LABEL_CHARS
        assert label == texts[row] or label.endswith("…") or label == " ".join(texts[row].split())
    assert any(label.startswith("<img src=x onerror=") for label in w.axis_labels)
    assert w.exact is not None and np.asarray(w.exact).shape == (3, 3)


def test_given_labels_name_the_axes_and_must_match_the_rows() -> None:
    w = SimilarityMatrix(vectors(4), ["t0", "t1", "t2", "t3"], labels=list("abcd"), order="input")
    assert w.axis_labels == ["a", "b", "c", "d"]
    with pytest.raises(InvalidInputError) as error:
        SimilarityMatrix(vectors(4), labels=["a", "b"])
    assert "\n" not in str(error.value) and "one label per point" in str(error.value)


def test_no_text_labels_past_sixty_rows() -> None:
    at_limit = SimilarityMatrix(vectors(AXIS_LABEL_MAX_ROWS), order="input")
    assert at_limit.axis_labels == [f"#{i}" for i in range(AXIS_LABEL_MAX_ROWS)]
    beyond = SimilarityMatrix(vectors(AXIS_LABEL_MAX_ROWS + 1))
    assert beyond.axis_labels == [] and beyond.exact is None


# --- SimilarityMatrix: threshold --------------------------------------------------------


@pytest.mark.parametrize("value", [-1, -1.0, 0, 0.35, 1.0, np.float32(0.5)])
def test_threshold_accepts_cosine_values(value: Any) -> None:
    w = SimilarityMatrix(vectors(3), threshold=value)
    assert w.threshold == pytest.approx(float(value))
    w.threshold = 0.25
    assert w.threshold == 0.25


@pytest.mark.parametrize("value", [1.01, -1.5, float("nan"), float("inf"), "0.5", True, None])
def test_threshold_out_of_bounds_is_one_clear_line(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="threshold") as error:
        SimilarityMatrix(vectors(3), threshold=value)
    assert "\n" not in str(error.value)
    w = SimilarityMatrix(vectors(3))
    if isinstance(value, float):  # the synced trait refuses it as well
        with pytest.raises(InvalidInputError, match="threshold"):
            w.threshold = value
        assert w.threshold == -1.0


def test_threshold_greys_the_snapshot() -> None:
    w = SimilarityMatrix(vectors(6), order="input")
    before = w.to_image(max_pixels=6)
    assert not (before == BELOW_THRESHOLD_RGB).all(axis=2).any()
    w.threshold = 0.5
    after = w.to_image(max_pixels=6)
    grey = (after == BELOW_THRESHOLD_RGB).all(axis=2)
    assert np.array_equal(grey, np.asarray(w.scores) < 0.5)
    assert not grey.diagonal().any()


# --- SimilarityMatrix: most similar texts -----------------------------------------------


def test_most_similar_matches_numpy_and_leaves_the_row_out() -> None:
    data = vectors(12)
    w = SimilarityMatrix(data, [f"doc {i}" for i in range(12)])
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[3]))
    expected = [int(i) for i in expected if i != 3][:4]
    found = w.most_similar(3, k=4)
    assert [i for i, _ in found] == expected
    assert found[0][1] == pytest.approx(float(unit[expected[0]] @ unit[3]), abs=1e-5)
    assert len(w.most_similar(3, k=100)) == 11
    with pytest.raises(InvalidInputError):
        w.most_similar(3, k=0)


def test_focus_and_the_similar_request() -> None:
    w = SimilarityMatrix(vectors(8), [f"doc {i}" for i in range(8)] + [], order="input")
    assert w.focused is None
    w.focus(2)
    assert w.focused_row == 2 and w.focused == 2
    sent = replies(
        w,
        {"kind": "similar", "req": 1, "row": 2},
        {"kind": "similar", "req": 2, "row": 99},
    )
    assert sent[0]["i"] == 2 and sent[0]["text"] == "doc 2"
    assert [item["i"] for item in sent[0]["items"]] == [i for i, _ in w.most_similar(2)]
    assert all(item["text"] == f"doc {item['i']}" for item in sent[0]["items"])
    assert "error" in sent[1]
    with pytest.raises(InvalidInputError):
        w.focused_row = 8
    w.focus(None)
    assert w.focused is None


def test_sampled_matrix_refuses_a_row_it_does_not_show() -> None:
    w = SimilarityMatrix(vectors(300), max_size=100)
    hidden = next(i for i in range(300) if i not in set(w.shown.tolist()))
    with pytest.raises(InvalidInputError, match="not shown"):
        w.focus(hidden)


def test_most_similar_on_the_real_model(default_model: Any) -> None:
    from embed_nb.datasets import teaching_topics

    texts = [t for t, _ in teaching_topics()]
    w = SimilarityMatrix(default_model.embed(texts), order="input")
    top = [texts[i] for i, _ in w.most_similar(texts.index("The cat sits on the mat"), k=2)]
    assert "A feline rests on the rug" in top or "A kitten is napping on the carpet" in top


# --- RerankList: the selected document --------------------------------------------------


def test_rerank_selected_is_checked() -> None:
    w = RerankList("b", ["a", "b", "c"], model=lambda q, ds: [float(q == d) for d in ds])
    assert w.selected == -1
    w.selected = 2
    assert w.selected == 2
    for bad in (3, -2):
        with pytest.raises(InvalidInputError, match="selected"):
            w.selected = bad
    assert w.selected == 2


# --- contrast (WCAG 2.x) ----------------------------------------------------------------


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def css_fallback(variable: str) -> tuple[int, int, int]:
    """The fallback colour of a ``--enb-*`` variable in widgets.css (outside JupyterLab)."""
    match = re.search(rf"{variable}:\s*var\([^,]+,\s*(#[0-9a-fA-F]{{3,6}})\)", CSS)
    assert match, variable
    return hex_rgb(match.group(1))


def css_rule(selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, selector
    return match.group(1)


def test_rerank_score_is_readable_text_beside_its_bar() -> None:
    rule = css_rule(".enb-rr-score")
    assert "color: var(--enb-fg)" in rule and "mix-blend-mode" not in rule
    fg, bg, panel = css_fallback("--enb-fg"), css_fallback("--enb-bg"), css_fallback("--enb-panel")
    assert contrast(fg, bg) >= 4.5  # a row
    assert contrast(fg, panel) >= 4.5  # the selected row
    # JupyterLab's light theme: rgba(0,0,0,.87) text on white and on #eee.
    lab_fg = (0.13 * 255,) * 3
    assert contrast(lab_fg, (255, 255, 255)) >= 4.5 and contrast(lab_fg, (238, 238, 238)) >= 4.5
    # The front end puts the score in its own cell, not over the bar any more.
    source = (ROOT / "js" / "src" / "rerank.js").read_text(encoding="utf-8")
    assert '"enb-rr-score"' in source and "barBox.append(fill)" in source


def test_marked_query_words_and_focus_ring_contrast() -> None:
    mark = css_rule("mark.enb-hit")
    back = hex_rgb(re.search(r"background:\s*(#[0-9a-fA-F]+)", mark).group(1))  # type: ignore[union-attr]
    text = hex_rgb(re.search(r"[^-]color:\s*(#[0-9a-fA-F]+)", mark).group(1))  # type: ignore[union-attr]
    assert contrast(text, back) >= 4.5
    ring = hex_rgb(re.search(r"--enb-focus,\s*(#[0-9a-fA-F]+)", CSS).group(1))  # type: ignore[union-attr]
    assert contrast(ring, css_fallback("--enb-bg")) >= 3.0  # WCAG 1.4.11, non-text
    assert contrast(ring, css_fallback("--enb-panel")) >= 3.0


def test_cell_value_colours_meet_aa_on_every_cell_colour() -> None:
    # The view's rule (common.js textColorOn): black or white, whichever contrasts more.
    def text_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        l = luminance(rgb)  # noqa: E741
        return (0, 0, 0) if (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) else (255, 255, 255)

    colours = [tuple(int(c) for c in row) for row in viridis()] + [BELOW_THRESHOLD_RGB]
    worst = min(contrast(text_on(rgb), rgb) for rgb in colours)  # type: ignore[arg-type]
    assert worst >= 4.5
    source = (ROOT / "js" / "src" / "common.js").read_text(encoding="utf-8")
    assert "(l + 0.05) / 0.05 >= 1.05 / (l + 0.05)" in source
    js_grey = re.search(
        r"const GREY = \[(\d+), (\d+), (\d+)\]", (ROOT / "js" / "src" / "similarity.js").read_text()
    )
    assert js_grey and tuple(int(g) for g in js_grey.groups()) == BELOW_THRESHOLD_RGB


def test_the_sim_magic_passes_the_threshold(shell: Any) -> None:
    shell.user_ns["vectors_for_sim"] = np.random.default_rng(0).normal(size=(5, 8))
    try:
        widget = shell.run_line_magic("embed_sim", "vectors_for_sim --threshold 0.5")
        assert widget.threshold == 0.5
    finally:
        shell.user_ns.pop("vectors_for_sim", None)
