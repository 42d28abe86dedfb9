"""CompareView in the kernel: the neighbour overlap, the aligned layouts, the inputs it refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from embed_nb import InvalidInputError
from embed_nb.widgets import CompareView
from embed_nb.widgets.compare import nearest_neighbours, neighbour_overlap

pytest.importorskip("anywidget")


def _vectors(n: int = 300, d: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_nearest_neighbours_equal_a_full_sort() -> None:
    unit = _unit(_vectors(500))
    found = nearest_neighbours(unit, 7)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    want = np.argsort(-scores, axis=1)[:, :7]
    assert all(set(f) == set(w) for f, w in zip(found, want, strict=True))


def test_overlap_counts_shared_neighbours() -> None:
    a = _unit(_vectors())
    assert (neighbour_overlap(a, a, 10) == 10).all()
    b = _unit(_vectors(seed=1))  # unrelated vectors share about k^2/n neighbours
    assert neighbour_overlap(a, b, 10).mean() < 1.0
    # By hand for one point: the intersection of the two neighbour sets.
    near_a, near_b = nearest_neighbours(a, 10), nearest_neighbours(b, 10)
    assert neighbour_overlap(a, b, 10)[5] == len(set(near_a[5]) & set(near_b[5]))


def test_the_view_of_an_embedding_and_a_noisy_copy() -> None:
    a = _vectors(400)
    b = a + 0.3 * _vectors(400, seed=2)
    texts = [f"text {i}" for i in range(400)]
    view = CompareView(a, b, texts, k=5, names=("before", "after"))
    assert view.names == ["before", "after"] and view.k == 5
    assert 0 < view.mean_overlap < 5
    assert view.mean_overlap == pytest.approx(float(view.overlap.mean()))
    assert np.asarray(view.overlap_codes).dtype == np.uint8
    assert view.positions_a.shape == view.positions_b.shape == (800,)
    # The second layout is turned onto the first: a copy of the same vectors lands on it.
    same = CompareView(a, a.copy(), texts)
    np.testing.assert_allclose(same.positions_a, same.positions_b, atol=1e-5)
    view.selected = [3, 1]
    assert view.selected_texts == ["text 1", "text 3"]


def test_the_layouts_are_aligned_under_a_reflection() -> None:
    a = _vectors(300)
    flipped = a.copy()
    flipped[:, :] *= -1  # every direction reversed: the PCA picture is mirrored
    view = CompareView(a, flipped)
    np.testing.assert_allclose(view.positions_a, view.positions_b, atol=1e-4)


def test_names_default_to_the_models() -> None:
    from embed_nb.results import Embeddings

    def made_by(model: str, vectors: np.ndarray) -> Embeddings:
        return Embeddings(
            vectors=vectors,
            texts=[str(i) for i in range(len(vectors))],
            token_counts=[1] * len(vectors),
            model=model,
            fingerprint="f",
            pooling="mean",
            normalize=2,
        )

    view = CompareView(made_by("minilm", _vectors(50)), made_by("bge", _vectors(50, 8)))
    assert view.names == ["minilm", "bge"]  # the two may differ in dimension
    assert view.texts[:2] == ["0", "1"]


@pytest.mark.parametrize(
    ("b", "kwargs", "message"),
    [
        (_vectors(299), {}, "same items"),
        (_vectors(300), {"k": 0}, "k"),
        (_vectors(300), {"names": ("one",)}, "two str"),
        (_vectors(300), {"layout": "tsne"}, "layout"),
    ],
)
def test_bad_inputs_are_one_line(b: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        CompareView(_vectors(300), b, **kwargs)
    assert "\n" not in str(caught.value)


def test_k_must_leave_neighbours_to_find() -> None:
    with pytest.raises(InvalidInputError, match="needs more than 20 items"):
        CompareView(_vectors(20), _vectors(20, seed=1), k=20)


def test_hostile_texts_stay_texts() -> None:
    texts = ["<img src=x onerror=alert(1)>", "مرحبا بالعالم", "🐼 panda"] * 10
    view = CompareView(_vectors(30), _vectors(30, seed=3), texts, k=3)
    reply, _ = view._on_texts({"ids": [0, 1, 2]})
    assert reply["texts"] == texts[:3]  # sent as data; the page puts them in textContent


def test_the_magic_makes_the_same_view(shell: Any) -> None:
    a, b = _vectors(60), _vectors(60, seed=4)
    shell.user_ns.update(left=a, right=b)
    try:
        view = shell.run_line_magic("embed_compare", "left right -k 4 --names one,two -o cmp")
        assert shell.user_ns["cmp"] is view
        assert view.names == ["one", "two"] and view.k == 4
        np.testing.assert_array_equal(view.overlap, CompareView(a, b, k=4).overlap)
    finally:
        for name in ("left", "right", "cmp"):
            shell.user_ns.pop(name, None)
