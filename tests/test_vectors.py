"""embed_nb.vectors: unit rows, cosine scores and top-k, PCA, and the API's UMAP being it."""

from __future__ import annotations

import numpy as np
import pytest

from embed_nb import api
from embed_nb.vectors import (
    cosine_scores,
    cosine_similarity,
    cosine_top_k,
    pca,
    top_k,
    umap_layout,
    unit_rows,
    unit_vector,
)


def points(n: int = 40, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_unit_rows_are_unit_and_zero_rows_stay_zero() -> None:
    matrix = points()
    matrix[3] = 0
    unit = unit_rows(matrix)
    assert unit.dtype == np.float32 and unit.shape == matrix.shape
    norms = np.linalg.norm(unit, axis=1)
    np.testing.assert_allclose(np.delete(norms, 3), 1, atol=1e-6)
    assert not unit[3].any() and np.isfinite(unit).all()
    assert unit_rows(matrix, np.float64).dtype == np.float64
    assert not unit_vector(np.zeros(4)).any()
    np.testing.assert_allclose(unit_vector(np.array([3.0, 4.0])), [0.6, 0.8], rtol=1e-6)


def test_cosine_similarity_against_itself_and_another() -> None:
    a, b = points(30), points(20, seed=1)
    a[0] = 0
    reference = unit_rows(a, np.float64) @ unit_rows(b, np.float64).T
    both = cosine_similarity(a, b)
    assert both.dtype == np.float32 and both.shape == (30, 20)
    np.testing.assert_allclose(both, reference, atol=1e-6)
    assert not both[0].any()  # a zero vector has no direction: 0, not NaN
    itself = cosine_similarity(a)
    np.testing.assert_allclose(np.diag(itself)[1:], 1, atol=1e-6)
    np.testing.assert_array_equal(itself, itself.T)


def test_cosine_scores_and_top_k() -> None:
    matrix = points(50).astype(np.float64)
    query = matrix[7] * 3
    scores = cosine_scores(matrix, query)
    np.testing.assert_allclose(scores, unit_rows(matrix, np.float64) @ unit_vector(query, float))
    indices, best = cosine_top_k(matrix, query, 5)
    assert indices[0] == 7 and best[0] == pytest.approx(1)
    np.testing.assert_array_equal(indices, np.argsort(-scores, kind="stable")[:5])
    assert not cosine_scores(matrix, np.zeros(8)).any()


@pytest.mark.parametrize("k", [1, 3, 4, 10, 12, 50])
def test_top_k_is_a_stable_sort_even_with_ties(k: int) -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.9, 0.5, 0.5, -1.0, 0.9, 0.5, 0.2, 0.5])
    indices, best = top_k(scores, k)
    expected = np.argsort(-scores, kind="stable")[:k]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(best, scores[expected])


def test_top_k_excludes_a_point_and_handles_edges() -> None:
    scores = np.array([1.0, 0.5, 0.8, 0.2], dtype=np.float32)
    indices, best = top_k(scores, 10, exclude=0)
    assert indices.tolist() == [2, 1, 3] and best.dtype == np.float32
    assert scores[0] == 1.0  # the caller's scores are left alone
    assert top_k(scores, 0)[0].size == 0
    assert top_k(np.zeros(0), 3)[0].size == 0
    assert top_k(np.array([1.0]), 3, exclude=0)[0].size == 0
    with_nan = np.array([np.nan, 0.3, np.nan, 0.7])
    assert top_k(with_nan, 3)[0].tolist() == [3, 1, 0]  # NaN last, as in argsort


@pytest.mark.parametrize("shape", [(200, 6), (5, 30)])  # covariance path, SVD path
def test_pca_matches_an_svd_with_a_fixed_sign(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=shape) * np.linspace(3, 0.5, shape[1])
    coords, explained = pca(matrix, 3)
    assert coords.dtype == np.float32 and coords.shape == (shape[0], 3)
    centred = matrix - matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ vt[:3].T
    np.testing.assert_allclose(np.abs(coords), np.abs(reference), atol=1e-4)
    np.testing.assert_allclose(explained, singular[:3] ** 2 / (singular**2).sum(), atol=1e-5)
    # The sign: each component's largest loading is positive, so mirrored data gives the same.
    flipped, _ = pca(-matrix, 3)
    components = np.linalg.lstsq(centred, coords.astype(np.float64), rcond=None)[0].T
    assert (components[np.arange(3), np.abs(components).argmax(axis=1)] > 0).all()
    np.testing.assert_allclose(np.abs(flipped), np.abs(coords), atol=1e-4)
    np.testing.assert_array_equal(pca(matrix, 3)[0], coords)  # deterministic


def test_pca_pads_when_there_are_fewer_points_than_components() -> None:
    coords, explained = pca(points(2, 8), 4)
    assert coords.shape == (2, 4) and explained.shape == (4,)
    assert not coords[:, 2:].any() and not explained[2:].any()
    np.testing.assert_allclose(coords[:, 1], 0, atol=1e-5)  # two points span one direction
    assert explained[0] == pytest.approx(1)


def test_pca_float32_and_float64_agree() -> None:
    matrix = points(300, 16)
    single, _ = pca(matrix)
    double, _ = pca(matrix.astype(np.float64))
    np.testing.assert_allclose(single, double, atol=1e-4)


def test_api_project_umap_is_the_fast_cosine_umap() -> None:
    pytest.importorskip("umap")
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 12)) * 4
    vectors = (centres[np.repeat(np.arange(3), 30)] + rng.normal(size=(90, 12))).astype(np.float32)
    projection = api.project(vectors, method="umap", random_state=7)
    expected = umap_layout(unit_rows(vectors), random_state=7)
    np.testing.assert_array_equal(np.asarray(projection), expected)
    np.testing.assert_array_equal(
        np.asarray(api.project(vectors, "umap", random_state=7)), expected
    )
    three = api.project(vectors, method="umap", n_components=3, random_state=7)
    assert np.asarray(three).shape == (90, 3)
