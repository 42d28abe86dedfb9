"""Hostile inputs to the widgets (issue 9): each is one clear InvalidInputError, never a raw
numpy, traitlets or scikit-learn exception, and never a meaningless picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed_nb import api
from embed_nb.engine import LocalModel
from embed_nb.errors import InvalidInputError
from embed_nb.widgets import ProjectionView, RerankList, SimilarityMatrix
from embed_nb.widgets._base import STATIC_DIR

pytestmark = pytest.mark.skipif(
    not (STATIC_DIR / "projection.js").is_file(), reason="widget bundle not built (npm run build)"
)

GOOD = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)


def projection(data: Any, **options: Any) -> ProjectionView:
    return ProjectionView(data, umap=False, **options)


VIEWS: list[Callable[..., Any]] = [SimilarityMatrix, projection]


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.array([["a", "b"], ["c", "d"]]), "numbers"),
        (np.array([[1, "a"], [2, "b"]], dtype=object), "numbers"),
        (np.array([1.5, None, 2.5], dtype=object), "shape"),
        (np.array([[True, False], [False, True]]), "numbers"),
        ([[1.0, 2.0], [3.0]], "not an \\(n, d\\) array"),
        (np.ones((4, 1)), "1-dimensional"),
        (np.ones((4, 0)), "0-dimensional"),
        (np.ones(4), "shape \\(n, d\\)"),
        (np.ones((2, 2, 2)), "shape \\(n, d\\)"),
        (np.full((3, 4), np.nan), "NaN"),
        (np.array([[1e300, 1.0], [1.0, 1.0]]), "too large"),
        (None, "not an \\(n, d\\) array|shape"),
        (5, "shape"),
    ],
)
def test_bad_vectors(view: Callable[..., Any], data: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        view(data)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"labels": 5}, "labels must be a list"),
        ({"labels": "abcdefghijkl"}, "labels must be a list"),
        ({"labels": {"a": 1}}, "labels must be a list"),
        ({"labels": [1, 2]}, "2 labels for 12 points"),
        ({"texts": 5}, "texts must be a list"),
        ({"texts": "abc"}, "texts must be a list"),
        ({"texts": ["a"]}, "1 texts for 12 vectors"),
    ],
)
def test_bad_labels_and_texts(
    view: Callable[..., Any], options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        view(GOOD, **options)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_clusters": 0}, "n_clusters must be from 1"),
        ({"n_clusters": -3}, "n_clusters must be from 1"),
        ({"n_clusters": 10**9}, "n_clusters must be from 1"),
        ({"n_clusters": 2.5}, "n_clusters must be an integer"),
        ({"n_clusters": None}, "n_clusters must be an integer"),
        ({"k": 0}, "k must be from 1"),
        ({"k": 10**12}, "k must be from 1"),
        ({"k": "5"}, "k must be an integer"),
        ({"color_by": "rainbow"}, "color_by must be one of"),
        ({"umap_options": [1]}, "umap_options must be a dict"),
    ],
)
def test_projection_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        projection(GOOD, **options)


def test_projection_clusters_stay_within_the_points() -> None:
    pytest.importorskip("sklearn")
    view = projection(GOOD, n_clusters=200, color_by="kmeans")
    assert len(set(np.asarray(view.categories).tolist())) <= len(GOOD)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_size": 0}, "max_size must be from 2"),
        ({"max_size": 1}, "max_size must be from 2"),
        ({"max_size": 10**9}, "max_size must be from 2"),
        ({"max_size": "big"}, "max_size must be an integer"),
        ({"order": "random"}, "order must be"),
    ],
)
def test_similarity_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        SimilarityMatrix(GOOD, **options)


@pytest.mark.parametrize(
    ("args", "options", "match"),
    [
        (("q", ["a", "b"]), {"top_n": None}, "top_n must be an integer"),
        (("q", ["a", "b"]), {"top_n": "3"}, "top_n must be an integer"),
        (("q", ["a", "b"]), {"top_n": 0}, "top_n must be from 1"),
        (("q", ["a", "b"]), {"top_n": -1}, "top_n must be from 1"),
        (("q", ["a", "b"]), {"live": "yes"}, "live must be True or False"),
        ((5, ["a", "b"]), {}, "query must be a str"),
        (("q", "ab"), {}, "documents must be a list"),
        (("q", [1, 2]), {}, "documents\\[0\\] is int"),
        (("q", np.array([["a"]])), {}, "documents"),
    ],
)
def test_rerank_list_options(args: tuple[Any, ...], options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        RerankList(*args, model=lambda q, docs: [0.0] * len(docs), **options)


def test_a_reranker_cannot_draw_a_map_or_a_matrix(reranker_path: Path) -> None:
    with LocalModel(reranker_path) as reranker:
        scores = api.embed(["a", "b", "c"], model=reranker, cache=False)
        for view in VIEWS:
            with pytest.raises(InvalidInputError, match="reranker"):
                view(["a", "b", "c"], model=reranker)
            with pytest.raises(InvalidInputError, match="reranker"):
                view(scores)
