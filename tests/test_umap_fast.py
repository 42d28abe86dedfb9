"""The fast UMAP: exact cosine kNN agrees with a full sort; the layout is usable."""

from __future__ import annotations

import numpy as np
import pytest

from embed_nb.umap_fast import exact_knn, fast_umap

pytest.importorskip("numba")


@pytest.mark.parametrize("block_rows", [None, 1, 37, 499])
def test_exact_knn_matches_a_full_sort(block_rows: int | None) -> None:
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(500, 24)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    indices, distances = exact_knn(unit, 8, block_rows=block_rows)
    assert indices.shape == (500, 8) and distances.dtype == np.float32
    assert (indices[:, 0] == np.arange(500)).all() and (distances[:, 0] == 0).all()
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    expected = np.argsort(-scores, axis=1)[:, :7]
    np.testing.assert_array_equal(indices[:, 1:], expected)
    np.testing.assert_allclose(
        distances[:, 1:], 1 - np.take_along_axis(scores, expected, axis=1), atol=1e-5
    )
    assert (np.diff(distances, axis=1) >= 0).all()


def test_fast_umap_reports_progress_and_separates_clusters() -> None:
    pytest.importorskip("umap")
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16)) * 4
    labels = np.repeat(np.arange(3), 100)
    vectors = centres[labels] + rng.normal(size=(300, 16))
    stages: list[tuple[str, float]] = []
    layout = fast_umap(
        vectors, n_epochs=50, random_state=0, progress=lambda s, f: stages.append((s, f))
    )
    assert layout.shape == (300, 2) and layout.dtype == np.float32
    assert stages[0][0] == "nearest neighbours" and stages[-1] == ("done", 1.0)
    assert any(s == "layout" for s, _ in stages)
    means = np.stack([layout[labels == c].mean(axis=0) for c in range(3)])
    spread = max(layout[labels == c].std() for c in range(3))
    gaps = [np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread
