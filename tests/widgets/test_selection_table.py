"""The ProjectionView's selection table, kernel side: ``view.selection`` both ways, the pages
of rows the table asks for (sorted in the kernel), the columns it shows, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import embed_nb.api
from embed_nb.errors import InvalidInputError
from embed_nb.widgets import ProjectionView
from embed_nb.widgets._selection import MAX_ROWS_PER_REQUEST, SORT_INDEX, SORT_TEXT

pd = pytest.importorskip("pandas")

EVIL = '<img src=x onerror="alert(1)"> שלום 👋'


def _view(n: int = 60, **kwargs: Any) -> tuple[ProjectionView, Any]:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    frame = pd.DataFrame(
        {
            "text": [f"doc {i}" for i in range(n)],
            "score": rng.normal(size=n),
            "year": rng.integers(1990, 2020, n),
            "source": [["wiki", "News", "blog"][i % 3] for i in range(n)],
            "embedding": list(vectors),
        },
        index=[f"r{i}" for i in range(n)],
    )
    frame.loc["r4", "score"] = np.nan
    view = ProjectionView(vectors, list(frame["text"]), frame=frame, umap=False, **kwargs)
    return view, frame


def _rows(view: ProjectionView, **content: Any) -> dict[str, Any]:
    reply, buffers = view._on_table_rows(content)
    assert buffers == []
    return reply


def test_selection_is_the_frames_rows_in_point_order() -> None:
    view, frame = _view()
    view.selected = [9, 2, 30]
    pd.testing.assert_frame_equal(view.selection, frame.iloc[[2, 9, 30]])
    view.selected = []
    assert len(view.selection) == 0 and list(view.selection.columns) == list(frame.columns)


def test_setting_selection_selects_and_scrolls_the_table() -> None:
    view, frame = _view()
    seen: list[int] = []
    view.observe(lambda change: seen.append(change["new"]), names="table_scroll_to")
    view.selection = frame[frame["source"] == "News"]
    assert view.selected.tolist() == list(range(1, 60, 3))
    assert view.table_scroll_to == 1 and seen[-1] == 1
    view.selection = frame[frame["source"] == "News"]  # the same again still scrolls
    assert seen[-2:] == [-1, 1]
    view.selection = ["r7", "r3"]  # index labels
    assert view.selected.tolist() == [3, 7]
    view.selection = "r5"
    assert view.selected.tolist() == [5]
    view.selection = frame["score"] > 1.0  # a boolean mask
    assert view.selected.tolist() == np.flatnonzero(frame["score"].to_numpy() > 1.0).tolist()
    view.selection = frame.loc[["r8", "r1"], "year"]  # a Series of rows counts by its labels
    assert view.selected.tolist() == [1, 8]
    view.selection = None
    assert view.selected.tolist() == [] and view.table_scroll_to == -1


def test_labels_not_in_the_frame_are_one_line_errors() -> None:
    view, frame = _view()
    view.selected = [1]
    with pytest.raises(InvalidInputError) as error:
        view.selection = ["r1", "nope", 99, "gone"]
    message = str(error.value)
    assert "\n" not in message and "3 of 4 labels" in message
    assert "'nope'" in message and "99" in message and "view.selected" in message
    assert view.selected.tolist() == [1]  # unchanged
    with pytest.raises(InvalidInputError, match="one value per point"):
        view.selection = [True, False]
    with pytest.raises(InvalidInputError, match="not in the frame"):
        view.selection = frame.set_index("year").iloc[:2]  # rows of another frame


def test_without_a_frame_the_selection_is_a_text_column() -> None:
    rng = np.random.default_rng(0)
    texts = ["alpha", EVIL, "gamma", "delta"]
    view = ProjectionView(rng.normal(size=(4, 6)).astype(np.float32), texts, umap=False)
    assert view.table_columns == [] and view.table_numeric == []
    view.selected = [3, 1]
    assert view.selection["text"].tolist() == [EVIL, "delta"]
    assert view.selection.index.tolist() == [1, 3]
    view.selection = [2]  # positions are the labels here
    assert view.selected.tolist() == [2]
    with pytest.raises(InvalidInputError, match="not in the frame's index"):
        view.selection = [7]


def test_the_table_shows_the_first_scalar_columns_and_can_show_others() -> None:
    view, _ = _view()
    # "text" is the view's own column and "embedding" holds arrays: neither is a column here.
    assert view.table_columns == ["score", "year", "source"]
    assert view.table_numeric == [True, True, False]
    view.table_columns = ["source"]
    assert view.table_numeric == [False]
    view.selected = [0, 1]
    assert _rows(view)["cells"] == [["wiki"], ["News"]]
    with pytest.raises(InvalidInputError, match="'colour' not in the frame"):
        view.table_columns = ["source", "colour"]
    assert view.table_columns == ["source"]


def test_pages_of_rows_sorted_in_the_kernel() -> None:
    view, frame = _view()
    view.selected = list(range(0, 60, 2))
    reply = _rows(view, offset=0, limit=5)
    assert reply["total"] == 30 and reply["ids"] == [0, 2, 4, 6, 8]
    assert reply["labels"] == ["r0", "r2", "r4", "r6", "r8"]
    assert reply["texts"] == ["doc 0", "doc 2", "doc 4", "doc 6", "doc 8"]
    assert reply["cells"][2][0] == ""  # NaN shows empty
    assert reply["cells"][0][1] == str(frame["year"].iloc[0])
    # Numbers sort as numbers, missing last either way; the page after is the next ranks.
    scores = frame["score"].iloc[view.selected]
    by_score = scores.sort_values(kind="stable", na_position="last")
    expected = [frame.index.get_loc(label) for label in by_score.index]
    up = _rows(view, sort=0, offset=0, limit=30)["ids"]
    assert up == expected and up[-1] == 4
    down = _rows(view, sort=0, descending=True, offset=0, limit=30)["ids"]
    assert down[-1] == 4 and down[:-1] == expected[:-1][::-1]
    assert _rows(view, sort=0, offset=10, limit=10)["ids"] == expected[10:20]
    # Strings sort case-folded ("blog" < "News" < "wiki"); ties keep point order.
    ids = _rows(view, sort=2, offset=0, limit=30)["ids"]
    sources = [frame["source"].iloc[i] for i in ids]
    assert sources == sorted(sources, key=str.casefold)
    assert ids[:3] == sorted(ids[:3])
    # The index column descending, the text column, and where a point is in the order.
    assert _rows(view, sort=SORT_INDEX, descending=True, limit=2)["ids"] == [58, 56]
    assert _rows(view, sort=SORT_TEXT, limit=3)["texts"] == ["doc 0", "doc 10", "doc 12"]
    assert _rows(view, sort=0, locate=int(expected[7]), limit=1)["rank"] == 7
    assert _rows(view, locate=1, limit=1)["rank"] == -1  # not selected
    # A new selection forgets the old order.
    view.selected = [5, 6]
    assert _rows(view, sort=0)["total"] == 2


def test_pages_are_bounded_and_bad_requests_fall_back() -> None:
    view, _ = _view(n=1200)
    view.selected = list(range(1200))
    reply = _rows(view, offset=0, limit=10_000)
    assert len(reply["ids"]) == MAX_ROWS_PER_REQUEST
    assert _rows(view, sort=99, limit=2)["sort"] == SORT_INDEX
    assert _rows(view, offset=1190, limit=50)["ids"] == list(range(1190, 1200))


def test_long_and_hostile_texts_are_clipped_and_sent_as_text() -> None:
    rng = np.random.default_rng(1)
    texts = [EVIL, "x" * 5000, "plain"]
    frame = pd.DataFrame({"note": [EVIL, "y" * 500, None]})
    view = ProjectionView(
        rng.normal(size=(3, 4)).astype(np.float32), texts, frame=frame, umap=False
    )
    view.selected = [0, 1, 2]
    reply = _rows(view)
    assert reply["texts"][0] == EVIL  # as is: the page shows it with textContent
    assert len(reply["texts"][1]) == 300 and reply["texts"][1].endswith("…")
    assert reply["cells"][0] == [EVIL] and len(reply["cells"][1][0]) == 120
    assert reply["cells"][2] == [""]


def test_mixed_type_column_sorts_by_text() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"mixed": [3, "b", 1.5, None, "A"]})
    view = ProjectionView(
        rng.normal(size=(5, 4)).astype(np.float32), list("vwxyz"), frame=frame, umap=False
    )
    view.selected = [0, 1, 2, 3, 4]
    assert _rows(view, sort=0)["ids"] == [3, 2, 0, 4, 1]  # "", "1.5", "3", "a", "b"


def test_a_dataframe_column_embedded_by_the_real_model_keeps_its_index(default_model) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "text": ["a cat sat on the mat", "dogs chase balls", "stock prices fell", EVIL],
            "stars": [5, 3, 1, 4],
        },
        index=["cat", "dog", "money", "evil"],
    )
    embeddings = embed_nb.api.embed(frame["text"], model=default_model)  # keeps the index
    assert embeddings.extra["index"] is not None
    view = ProjectionView(embeddings, umap=False, model=default_model)
    view.selection = ["dog", "evil"]
    assert view.selected.tolist() == [1, 3]
    assert view.selection.index.tolist() == ["dog", "evil"]
    assert view.selection["text"].tolist() == ["dogs chase balls", EVIL]
    with_frame = ProjectionView(embeddings, umap=False, model=default_model, frame=frame)
    with_frame.selection = frame[frame["stars"] >= 4]
    pd.testing.assert_frame_equal(with_frame.selection, frame.iloc[[0, 3]])
    assert _rows(with_frame, sort=0, descending=True)["labels"] == ["cat", "evil"]
    # One click on a row's "neighbours" focuses it: the kernel answers with its neighbours.
    with_frame.focused = 0
    ranked = with_frame.neighbors.tolist()
    assert ranked == with_frame.nearest(0)[0].tolist() and 0 not in ranked
    assert ranked.index(1) < ranked.index(2)  # the dog is nearer the cat than money is
