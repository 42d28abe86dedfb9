"""The API's UMAP and ProjectionView's UMAP are one computation: same vectors and seed, same map."""

from __future__ import annotations

import numpy as np
import pytest

import embed_nb
from embed_nb.widgets import ProjectionView
from embed_nb.widgets._base import STATIC_DIR
from embed_nb.widgets.projection import normalise_layout

pytestmark = pytest.mark.skipif(
    not (STATIC_DIR / "projection.js").is_file(), reason="widget bundle not built (npm run build)"
)


@pytest.mark.parametrize("seed", [0, 11])
def test_project_umap_equals_the_widgets_umap(seed: int) -> None:
    pytest.importorskip("umap")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 24))
    vectors = (centres[rng.integers(0, 4, 160)] + 0.3 * rng.normal(size=(160, 24))).astype(
        np.float32
    )
    view = ProjectionView(vectors, umap_options={"random_state": seed})
    assert view.wait_for_umap(300) and view.projection == "umap"
    projection = embed_nb.project(vectors, method="umap", random_state=seed)
    # The view scales its layout to fit the canvas; the map itself is the same, bit for bit.
    np.testing.assert_array_equal(normalise_layout(np.asarray(projection)), view.layout)
