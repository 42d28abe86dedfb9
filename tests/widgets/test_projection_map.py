"""ProjectionView's map: labels, contours, colour and size by a column, the filter box."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from embed_nb.errors import InvalidInputError
from embed_nb.widgets import ProjectionView
from embed_nb.widgets._base import binary
from embed_nb.widgets._columns import MISSING_CODE, code_column, code_sizes, filter_mask
from embed_nb.widgets._contours import contour_segments, iso_segments
from embed_nb.widgets._labels import check_custom_labels, label_anchors

N = 240


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, list[str], list[str]]:
    """Three well-separated blobs, with texts and labels that say which."""
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16, dtype=np.float32) * 6
    which = np.arange(N) % 3
    vectors = centres[which] + 0.3 * rng.normal(size=(N, 16)).astype(np.float32)
    names = ["apples", "rivers", "engines"]
    texts = [f"{names[w]} text {i}" for i, w in enumerate(which)]
    return vectors, texts, [names[w] for w in which]


def make(blobs, **kwargs) -> ProjectionView:  # type: ignore[no-untyped-def]
    vectors, texts, labels = blobs
    return ProjectionView(vectors, texts, labels=labels, umap=False, **kwargs)


# --- column coding ------------------------------------------------------------------------


def test_strings_booleans_and_few_ints_are_categories() -> None:
    for values in (["a", "b", "a"], [True, False, True], [1, 2, 1]):
        coding = code_column(np.asarray(values))
        assert coding.kind == "categorical"
        assert coding.codes.tolist() == [0, 1, 0]
        assert len(coding.names) == 2 and len(coding.colors) == 2


def test_floats_and_many_ints_are_numbers_quantised_to_255_levels() -> None:
    coding = code_column(np.array([0.0, 0.5, 1.0, 0.25]))
    assert coding.kind == "numeric"
    assert coding.codes.tolist() == [0, 127, 254, 64]
    assert (coding.low, coding.high) == (0.0, 1.0)
    assert code_column(np.arange(100)).kind == "numeric"


def test_nan_and_none_are_missing_not_refused() -> None:
    coding = code_column(np.array([1.0, np.nan, 3.0]))
    assert coding.codes.tolist() == [0, MISSING_CODE, 254]
    assert coding.missing == 1
    strings = code_column(np.array(["x", None, "y"], dtype=object))
    assert strings.names == ["x", "y", "missing"] and strings.codes.tolist() == [0, 2, 1]


def test_mixed_numbers_and_strings_are_categories_of_their_text() -> None:
    coding = code_column(np.array([1, "one", 2.5], dtype=object))
    assert coding.kind == "categorical"
    assert coding.names == ["1", "one", "2.5"]


def test_infinity_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInputError, match="infinity") as info:
        code_column(np.array([1.0, np.inf]))
    assert "\n" not in str(info.value)


def test_many_categories_keep_the_largest_and_share_other() -> None:
    values = np.array([f"c{i}" for i in range(30)] + ["big"] * 50)
    coding = code_column(values)
    assert len(coding.names) == 20 and coding.names[-1] == "other"
    assert "big" in coding.names


def test_sizes_need_finite_numbers() -> None:
    assert code_sizes(np.array([0.0, 5.0, 10.0])).tolist() == [0, 128, 255]
    with pytest.raises(InvalidInputError, match="non-finite"):
        code_sizes(np.array([1.0, np.nan]))
    with pytest.raises(InvalidInputError, match="numbers"):
        code_sizes(np.array(["a", "b"]))


def test_filter_by_text_and_by_column_value() -> None:
    texts = ["A cat", "a dog", "CATS"]
    columns = {"kind": lambda: np.array(["x", "y", "x"]), "n": lambda: np.array([1.0, 2.0, 2.0])}
    assert filter_mask("cat", texts, columns)[0].tolist() == [1, 0, 1]
    assert filter_mask("kind=x", texts, columns)[0].tolist() == [1, 0, 1]
    assert filter_mask("n=2", texts, columns)[0].tolist() == [0, 1, 1]
    assert filter_mask("  ", texts, columns)[0] is None


# --- labels and contours ------------------------------------------------------------------


def test_label_anchors_sit_at_each_category_centre_largest_first() -> None:
    codes = np.array([0, 0, 0, 1, 1, 2])
    layout = np.array([[0, 0], [1, 0], [0.5, 9], [5, 5], [7, 5], [-3, -3]], np.float32)
    anchors = label_anchors(codes, ["a", "b", "other"], layout)
    assert [a["text"] for a in anchors] == ["a", "b"]  # "other" is not a group to name
    assert anchors[0]["x"] == pytest.approx(0.5) and anchors[0]["y"] == pytest.approx(0.0)
    assert anchors[1]["x"] == pytest.approx(6.0) and anchors[1]["n"] == 2
    custom = label_anchors(codes, ["3: cats, dogs", "b", "other"], layout, {"b": "Bees", 0: "Zero"})
    assert [a["text"] for a in custom] == ["Zero", "Bees"]
    plain = label_anchors(codes, ["3: cats, dogs", "b", "other"], layout)
    assert plain[0]["text"] == "cats, dogs"  # keywords without the cluster number


def test_custom_labels_for_missing_clusters_are_named_in_one_line() -> None:
    with pytest.raises(InvalidInputError, match="7, 'nope'") as info:
        check_custom_labels({7: "x", "nope": "y", 1: "ok"}, [0, 1, "a"])
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInputError, match="dict"):
        check_custom_labels(["x"], [0])


def test_view_labels_follow_the_categories_and_custom_text(blobs) -> None:  # type: ignore[no-untyped-def]
    w = make(blobs, cluster_labels={"apples": "<b>Fruit</b>"})
    texts = {a["text"] for a in w.map_labels}
    assert texts == {"<b>Fruit</b>", "rivers", "engines"}
    apples = next(a for a in w.map_labels if a["key"] == "apples")
    mine = np.asarray(blobs[2]) == "apples"
    assert apples["x"] == pytest.approx(float(np.median(w.layout[mine, 0])), abs=1e-5)
    with pytest.raises(InvalidInputError, match="'pears'"):
        w.cluster_labels = {"pears": "x"}
    w.color_by = "kmeans"  # keywords of the clusters now
    assert len(w.map_labels) == 8 and all(a["text"] for a in w.map_labels)
    w.show_labels = False
    assert w.map_labels == []


def test_contours_are_recomputed_with_the_layout(blobs) -> None:  # type: ignore[no-untyped-def]
    w = make(blobs, contours=True)
    first = np.asarray(w.contour_lines).reshape(-1, 5)
    assert len(first) > 20 and set(np.unique(first[:, 4])) <= {0, 1, 2, 3}
    assert np.abs(first[:, :4]).max() <= 1.0
    w._show_layout("umap", -w.layout)  # a new layout (mirrored)
    second = np.asarray(w.contour_lines).reshape(-1, 5)
    assert not np.allclose(np.sort(first[:, 0]), np.sort(second[:, 0]))
    w.contours = False
    assert w.contour_lines is None


def test_iso_line_of_a_round_bump_is_a_circle() -> None:
    t = np.linspace(-1, 1, 96) + 1 / 96
    xx, yy = np.meshgrid(t, t)
    grid = np.exp(-(xx**2 + yy**2) / 0.1)
    seg = iso_segments(grid, np.exp(-1.0))  # where r² = 0.1
    radius = np.hypot(seg[:, 0], seg[:, 1])
    assert len(seg) > 30 and np.allclose(radius, np.sqrt(0.1), atol=0.03)
    assert contour_segments(np.zeros((0, 2), np.float32)).shape == (0, 5)


# --- colour and size by a column in the view ---------------------------------------------


def test_color_by_a_frame_column_numeric_and_categorical(blobs) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"score": np.linspace(0, 1, N), "kind": ["x", "y"] * (N // 2)})
    frame.loc[5, "score"] = np.nan
    w = make(blobs, frame=frame, color_by="score")
    assert "score" in w.color_choices and "kind" in w.color_choices
    assert w.color_scale == "viridis" and w.color_missing == 1
    assert int(w.categories[-1]) == 254 and int(w.categories[5]) == MISSING_CODE
    assert {a["text"] for a in w.map_labels} == {"apples", "rivers", "engines"}  # labels=
    w.color_by = "kind"
    assert w.color_scale == "" and w.category_names == ["x", "y"]
    assert {a["text"] for a in w.map_labels} == {"x", "y"}
    w.color_by = "label"  # the modes still work
    assert w.category_names == ["apples", "rivers", "engines"]


def test_color_by_a_series_or_list_and_size_by(blobs) -> None:  # type: ignore[no-untyped-def]
    w = make(blobs, color_by=pd.Series(np.arange(N) * 1.5, name="price"), size_by=list(range(N)))
    assert w.color_by == "price" and w.color_scale == "viridis"
    assert w.sizes is not None and int(w.sizes[0]) == 0 and int(w.sizes[-1]) == 255


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"color_by": [1.0, 2.0]}, "2 values for 240 points"),
        ({"color_by": "nope"}, "or a column of frame"),
        ({"color_by": np.full(N, np.inf)}, "infinity"),
        ({"color_by": np.zeros((N, 2))}, "1-D"),
        ({"size_by": [np.nan] * N}, "non-finite"),
        ({"size_by": ["a"] * N}, "numbers"),
        ({"cluster_labels": {"pears": "x"}}, "do not exist"),
        ({"frame": pd.DataFrame({"a": [1, 2]})}, "2 rows for 240 points"),
        ({"contours": "yes"}, "True or False"),
    ],
)
def test_bad_input_is_one_line(blobs, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=message) as info:
        make(blobs, **kwargs)
    assert "\n" not in str(info.value)


def test_filter_box_in_the_view(blobs) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"kind": ["x", "y", "z"] * (N // 3)})
    w = make(blobs, frame=frame)
    w.filter = "rivers"
    assert w.filter_count == N // 3 and int(w.filter_mask[1]) == 1 and int(w.filter_mask[0]) == 0
    w.filter = "kind=z"
    assert w.filter_count == N // 3 and int(w.filter_mask[2]) == 1
    w.filter = ""
    assert w.filter_mask is None and w.filter_count == -1


def test_a_million_points_cost_at_most_10_bytes_each() -> None:
    """Positions, a numeric colour byte and a size byte; labels are per category, not point."""
    n = 1_000_000
    rng = np.random.default_rng(1)
    w = ProjectionView.__new__(ProjectionView)  # traits only: no PCA of a million vectors here
    traits = ProjectionView.class_traits()
    positions = rng.normal(size=(2, n)).astype(np.float32)
    coding = code_column(rng.normal(size=n))
    sizes = code_sizes(rng.random(n))
    sent = 0
    for name, value in (("positions", positions), ("categories", coding.codes), ("sizes", sizes)):
        to_json = traits[name].metadata["to_json"]
        sent += to_json(value, w).nbytes
    assert binary("uint8")["to_json"](coding.codes, w).nbytes == n
    assert sent / n == 10.0


def test_the_map_magic_takes_frame_columns(shell: Any) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"stars": rng.integers(0, 500, 60), "lang": ["py", "js", "go"] * 20})
    shell.user_ns.update(map_vectors=rng.normal(size=(60, 8)), map_frame=frame)
    try:
        view = shell.run_line_magic(
            "embed_map",
            "map_vectors --frame map_frame --color-by stars --size-by stars --contours",
        )
        assert view.color_by == "stars" and view.contours is True
        assert len(view.selection.columns) == 2  # the frame's rows come back
        shell.user_ns["lang_values"] = list(frame["lang"])
        by_variable = shell.run_line_magic("embed_map", "map_vectors --color-by lang_values")
        assert {"go", "js", "py"} <= set(by_variable.category_names)
    finally:
        for name in ("map_vectors", "map_frame", "lang_values"):
            shell.user_ns.pop(name, None)
