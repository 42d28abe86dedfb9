"""Widgets at the Python level: binary traits, payload sizes, state round trips, kernel-side
neighbours, query and rerank, downsampling, static pictures. No browser needed."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from embed_nb.errors import InvalidInputError
from embed_nb.widgets import ProjectionView, RerankList, SimilarityMatrix
from embed_nb.widgets._base import STATIC_DIR, binary
from embed_nb.widgets._static import hex_to_rgb, png_bytes

pytestmark = pytest.mark.skipif(
    not (STATIC_DIR / "projection.js").is_file(), reason="widget bundle not built (npm run build)"
)


def blobs(n: int = 300, d: int = 32, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    labels = rng.integers(0, k, n)
    return (centres[labels] + 0.2 * rng.normal(size=(n, d))).astype(np.float32), labels


def state_buffers(widget: Any) -> dict[str, int]:
    """Sizes of the traits that go out as binary buffers (never JSON lists)."""
    state = widget.get_state()
    return {k: v.nbytes for k, v in state.items() if isinstance(v, memoryview)}


def round_trip(widget: Any, name: str, value: Any) -> None:
    """What the front end does: send a trait as the bytes of a typed array."""
    widget.set_state({name: memoryview(np.ascontiguousarray(value).view(np.uint8))})


def test_binary_serialiser_round_trip() -> None:
    meta = binary("uint32")
    data = np.array([3, 1, 2], dtype=np.uint32)
    sent = meta["to_json"](data, None)
    assert isinstance(sent, memoryview) and sent.nbytes == 12
    back = meta["from_json"](sent, None)
    assert back.dtype == np.uint32 and back.tolist() == [3, 1, 2]
    assert meta["to_json"](None, None) is None
    assert meta["from_json"]([4, 5], None).tolist() == [4, 5]


def test_projection_payload_is_nine_bytes_per_point() -> None:
    vectors, labels = blobs(2000)
    w = ProjectionView(vectors, labels=labels, umap=False)
    sizes = state_buffers(w)
    per_point = (sizes["positions"] + sizes["categories"]) / len(vectors)
    assert per_point == 9  # float32 x, y and a uint8 colour category
    assert per_point <= 12
    state = w.get_state()
    assert not any(isinstance(v, list) and len(v) >= len(vectors) for v in state.values())


def test_projection_selection_both_ways() -> None:
    vectors, _ = blobs(100)
    texts = [f"text {i}" for i in range(100)]
    w = ProjectionView(vectors, texts, umap=False)
    # From the view: a uint32 buffer, as regl-scatterplot's selection arrives.
    round_trip(w, "selected", np.array([7, 3, 5], dtype=np.uint32))
    assert w.selected.tolist() == [3, 5, 7]
    assert w.selected_texts == ["text 3", "text 5", "text 7"]
    # From Python: any int sequence; out-of-range indices are refused.
    w.selected = [9, 1]
    assert state_buffers(w)["selected"] == 8
    with pytest.raises(Exception, match="out of range"):
        w.selected = [100]
    w.selected = []
    assert w.selected_texts == []


def test_projection_neighbours_and_query_are_computed_in_the_kernel() -> None:
    vectors, _ = blobs(200)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    w = ProjectionView(vectors, umap=False, model=lambda texts: vectors[[5] * len(texts)], k=5)
    w.focused = 5
    expected = np.argsort(-(unit @ unit[5]))[1:6]
    assert w.neighbors.tolist() == expected.tolist()
    assert np.all(np.diff(w.neighbor_scores) <= 0)
    hits = w.search("anything")
    assert hits[0][0] == 5 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert w.query_hits.tolist()[:1] == [5]
    w.query = ""
    assert len(w.query_hits) == 0


def test_projection_query_dimension_mismatch_is_a_clear_error() -> None:
    vectors, _ = blobs(50)
    w = ProjectionView(vectors, umap=False, model=lambda texts: np.ones((len(texts), 7)))
    w.query = "hello"
    assert "dimensions" in w.query_error
    with pytest.raises(InvalidInputError, match="dimensions"):
        w.search("hello")


def test_projection_colour_by_label_and_clusters() -> None:
    pytest.importorskip("sklearn")
    vectors, labels = blobs(300)
    texts = [
        f"cats and dogs {i % 4} " + ("alpha" if lab == 0 else "omega")
        for i, lab in enumerate(labels)
    ]
    w = ProjectionView(vectors, texts, labels=[f"L{x}" for x in labels], umap=False)
    assert w.color_by == "label" and sorted(w.category_names) == ["L0", "L1", "L2", "L3"]
    w.color_by = "kmeans"
    assert len(w.category_names) == 8 and all(":" in n for n in w.category_names)
    assert w.categories.max() < 8
    w.color_by = "hdbscan"
    assert 1 <= len(w.category_names) <= 21


def test_projection_many_labels_share_other() -> None:
    vectors, _ = blobs(500)
    w = ProjectionView(vectors, labels=[str(i % 50) for i in range(500)], umap=False)
    assert len(w.category_names) == 20 and w.category_names[-1] == "other"
    assert np.asarray(w.categories).max() == 19


def test_projection_umap_replaces_pca_and_is_cached() -> None:
    pytest.importorskip("umap")
    vectors, _ = blobs(300)
    w = ProjectionView(vectors, umap_options={"n_epochs": 20})
    assert w.wait_for_umap(300)
    assert w.projection == "umap" and w.umap_state == "done" and w.progress == 1.0
    assert w.layout.shape == (300, 2) and np.abs(w.layout).max() <= 0.951
    again = ProjectionView(vectors, umap_options={"n_epochs": 20})
    assert again.projection == "umap"  # from the cache, at once
    np.testing.assert_array_equal(again.layout, w.layout)


def test_projection_texts_are_fetched_on_request() -> None:
    vectors, _ = blobs(30)
    w = ProjectionView(vectors, [f"t{i}" + "x" * 2000 for i in range(30)], umap=False)
    sent: list[Any] = []
    w.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    w._dispatch(w, {"kind": "texts", "req": 4, "ids": [2, 99]}, [])
    assert sent[0]["req"] == 4 and sent[0]["ids"] == [2, 99]
    assert sent[0]["texts"][0].startswith("t2") and len(sent[0]["texts"][0]) <= 600
    assert sent[0]["texts"][1] == ""
    assert "texts" not in w.get_state()  # texts never travel with the state


def test_similarity_matrix_cluster_order_and_payload() -> None:
    vectors, labels = blobs(120, k=3)
    w = SimilarityMatrix(vectors, labels=labels)
    assert w.size == 120 and w.note == ""
    assert state_buffers(w)["values"] == 120 * 120  # one byte per cell
    # Clustered order puts each label's rows together: few label changes along the order.
    ordered = labels[w.shown]
    assert np.count_nonzero(np.diff(ordered)) <= 4
    i, j = int(w.shown[0]), int(w.shown[1])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert w.score(i, j) == pytest.approx(float(unit[i] @ unit[j]), abs=1e-5)


def test_similarity_matrix_hover_and_pin() -> None:
    vectors, _ = blobs(10)
    texts = [f"doc {i}" for i in range(10)]
    w = SimilarityMatrix(vectors, texts, order="input")
    sent: list[Any] = []
    w.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    w._dispatch(w, {"kind": "cell", "req": 1, "row": 2, "col": 3}, [])
    assert sent[0]["texts"] == ["doc 2", "doc 3"] and sent[0]["i"] == 2
    w._dispatch(w, {"kind": "cell", "req": 2, "row": 20, "col": 3}, [])
    assert "error" in sent[1]
    assert w.pinned is None
    w.pinned_cell = [4, 5]
    assert w.pinned == (4, 5)
    w.pin(1, 2)
    assert w.pinned_cell == [1, 2]


def test_similarity_matrix_downsamples_and_says_so() -> None:
    vectors, _ = blobs(600)
    w = SimilarityMatrix(vectors, max_size=200)
    assert w.size == 200 and w.n_total == 600
    assert "200 of 600" in w.note
    with pytest.raises(InvalidInputError, match="sample"):
        w.pin(*[i for i in range(600) if i not in set(w.shown.tolist())][:2])


def test_similarity_matrix_from_texts_uses_the_model() -> None:
    rng = np.random.default_rng(1)
    table = {t: rng.normal(size=8) for t in ["a", "b", "c"]}
    w = SimilarityMatrix(["a", "b", "c"], model=lambda texts: np.stack([table[t] for t in texts]))
    assert w.size == 3 and w.text_of(0) == "a"


def test_inputs_are_checked() -> None:
    with pytest.raises(InvalidInputError):
        SimilarityMatrix(np.zeros((0, 4)))
    with pytest.raises(InvalidInputError, match="texts for"):
        ProjectionView(np.ones((3, 4)), ["a"], umap=False)
    with pytest.raises(InvalidInputError, match="labels"):
        ProjectionView(np.ones((3, 4)), labels=[1], umap=False)
    with pytest.raises(InvalidInputError, match="NaN"):
        SimilarityMatrix(np.full((3, 4), np.nan))


def test_static_png_in_the_mime_bundle() -> None:
    vectors, labels = blobs(50)
    for widget in (SimilarityMatrix(vectors, labels=labels), ProjectionView(vectors, umap=False)):
        data, _ = widget._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_bytes(np.zeros((2, 3, 3), np.uint8))[:4] == b"\x89PNG"


def test_projection_snapshot_draws_visible_points_in_their_colours() -> None:
    vectors, labels = blobs(50)
    view = ProjectionView(vectors, labels=labels, umap=False)
    image = view.to_image(200)
    inked = (image != 255).any(axis=2)
    # 50 discs of radius 3 (29 pixels each), some overlapping: far more than 50 pixels.
    assert inked.sum() > 500
    colours = {tuple(c) for c in image[inked]}
    assert {hex_to_rgb(c) for c in view.category_colors} <= colours


def test_rerank_list_with_a_scoring_callable() -> None:
    docs = ["apple pie", "banana split", "cherry tart"]
    w = RerankList("banana", docs, model=lambda q, ds: [float(q in d) for d in ds], top_n=2)
    assert w.ranking[0] == 1 and w.method == "custom"
    assert w.result is not None and w.result.documents[0] == "banana split"
    w.query = "cherry"
    assert w.ranking[0] == 2
    assert state_buffers(w)["order"] == 12
    w.query = ""
    assert w.ranking == [0, 1, 2]


def test_rerank_list_with_a_reranker(reranker_path: Any) -> None:
    from embed_nb.engine import LocalModel

    with LocalModel(reranker_path) as model:
        w = RerankList("hello", ["hello world", "goodbye"], model=model)
        expected = model.rerank("hello", ["hello world", "goodbye"])
        assert w.method == "rank"
        assert w.ranking == [hit.index for hit in expected.hits]


def test_rerank_list_errors_show_in_the_view() -> None:
    def broken(query: str, docs: list[str]) -> list[float]:
        raise RuntimeError("no scores today")

    w = RerankList("q", ["a"], model=broken)
    assert "no scores today" in w.error
    with pytest.raises(InvalidInputError):
        RerankList("q", [])
