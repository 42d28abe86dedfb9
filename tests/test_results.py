"""Result types: rich reprs (escaped, bounded), plain-text fallbacks and pandas views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embed_nb.results import (
    Embeddings,
    Projection,
    RerankHit,
    RerankResult,
    RetrievedContext,
    SearchHit,
    SearchResult,
    SimilarityMatrix,
)

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _embeddings(texts: list[str], *, single: bool = False, **extra: object) -> Embeddings:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(texts), 8)).astype(np.float32)
    return Embeddings(
        vectors=vectors[0] if single else vectors,
        texts=texts,
        token_counts=[len(t.split()) + 2 for t in texts],
        model="tiny<model>",
        fingerprint="abc",
        pooling="mean",
        normalize=2,
        single=single,
        extra=dict(extra),
    )


def _rerank(method: str = "rank") -> RerankResult:
    docs = ["a cat", XSS, "a dog"]
    hits = [RerankHit(1, docs[1], 2.5), RerankHit(0, docs[0], 0.5), RerankHit(2, docs[2], -1.0)]
    return RerankResult(query=f"q {XSS}", hits=hits, model="rr", method=method, total_tokens=30)


def _search() -> SearchResult:
    hits = [SearchHit(1, 4, XSS, 0.9, label="x"), SearchHit(2, 0, "plain", 0.5)]
    return SearchResult(query=XSS, hits=hits, model="m", corpus_size=10)


def _all_html() -> dict[str, str]:
    return {
        "embeddings": _embeddings(["ok", XSS])._repr_html_(),
        "rerank": _rerank()._repr_html_(),
        "rerank-cosine": _rerank("cosine")._repr_html_(),
        "search": _search()._repr_html_(),
        "similarity": SimilarityMatrix(
            np.eye(2, dtype=np.float32), [XSS, "b"], ["a", XSS]
        )._repr_html_(),
        "projection": Projection(np.zeros((2, 2), np.float32), [XSS, "b"], "pca")._repr_html_(),
        "context": RetrievedContext(f"[1] {XSS}")._repr_html_(),
    }


@pytest.mark.parametrize("kind", list(_all_html()))
def test_document_text_is_escaped_in_every_html_repr(kind: str) -> None:
    page = _all_html()[kind]
    assert XSS not in page
    assert "<script" not in page.lower()
    assert ESCAPED in page


def test_embeddings_html_shows_shape_provenance_and_first_values() -> None:
    e = _embeddings(["the cat", "a dog"], cache_hits=2)
    page = e._repr_html_()
    for expected in ("2 × 8 float32", "tiny&lt;model&gt;", "pooling mean", "L2-normalised"):
        assert expected in page
    assert "2 of 2 from cache" in page and "8 tokens (4.0 per text)" in page
    assert f"{float(np.asarray(e)[1][0]): .4f}".strip() in page


def test_plain_text_fallbacks_go_through_ipython_pretty() -> None:
    from IPython.lib.pretty import pretty

    e = _embeddings(["the cat", "a dog"])
    shown = pretty(e)
    assert shown.startswith("Embeddings 2 × 8 float32") and "'the cat'" in shown
    assert "reranker (RANK) scores" in pretty(_rerank())
    assert "not a reranker" in pretty(_rerank("cosine"))
    assert "top 2 of 10" in pretty(_search())
    assert pretty(RetrievedContext("line one\nline two")) == "line one\nline two"
    assert "Cosine similarity 2 × 2" in pretty(SimilarityMatrix(np.eye(2), ["a", "b"], ["a", "b"]))
    # repr stays the short one-liner other code relies on.
    assert repr(e).startswith("Embeddings(shape=(2, 8)")


def test_views_are_bounded_for_large_results() -> None:
    e = _embeddings([f"text {i}" for i in range(20_000)])
    page = e._repr_html_()
    assert "19,990 more rows" in page and len(page) < 10_000
    big = SimilarityMatrix(np.zeros((500, 500), np.float32), ["x"] * 500, ["y"] * 500)
    assert "showing the first 24 × 24" in big._repr_html_()
    many = Projection(np.random.default_rng(0).random((20_000, 2)), ["p"] * 20_000, "pca")
    assert many._repr_html_().count("<circle") <= 5000


def test_single_and_per_token_embeddings_render() -> None:
    one = _embeddings(["just one"], single=True)
    assert "8 float32" in one._repr_html_()
    tokens = Embeddings(
        vectors=None,
        texts=["a b", "c"],
        token_counts=[4, 3],
        model="m",
        fingerprint="f",
        pooling="none",
        normalize=-1,
        token_vectors=[np.ones((4, 8), np.float32), np.ones((3, 8), np.float32)],
    )
    page = tokens._repr_html_()
    assert "per-token vectors" in page and "4 × 8" in page
    assert len(tokens.to_pandas()["embedding"][0]) == 4


def test_rerank_html_has_rank_score_and_bars() -> None:
    page = _rerank()._repr_html_()
    assert page.count("class='bar'") == 3
    assert "2.5000" in page and "-1.0000" in page
    assert "reranker (RANK) scores" in page


def test_normalisation_labels() -> None:
    from embed_nb.display import normalize_label

    assert normalize_label(-1) == "not normalised"
    assert normalize_label(0).startswith("max-abs")
    assert normalize_label(1) == "L1-normalised"
    assert normalize_label(4) == "4-norm normalised"


def test_pandas_views() -> None:
    e = _embeddings(["a", "b", "c"], index=pd.Index(["x", "y", "z"]))
    frame = e.to_pandas()
    assert list(frame.columns) == ["text", "tokens", "embedding"]
    assert list(frame.index) == ["x", "y", "z"]
    np.testing.assert_array_equal(frame["embedding"]["y"], np.asarray(e)[1])
    wide = e.to_pandas(wide=True)
    assert wide.shape == (3, 2 + 8) and "e7" in wide.columns
    ranked = _rerank().to_pandas()
    assert list(ranked["rank"]) == [1, 2, 3] and list(ranked["index"]) == [1, 0, 2]
    found = _search().to_pandas()
    assert list(found["index"]) == ["x", 0]
    matrix = SimilarityMatrix(np.eye(2, dtype=np.float32), ["a", "b"], ["c", "d"]).to_pandas()
    assert list(matrix.columns) == ["c", "d"] and matrix.loc["a", "c"] == 1
    points = Projection(np.zeros((2, 2), np.float32), ["p", "q"], "pca").to_pandas()
    assert list(points.columns) == ["x", "y", "label"]


def test_search_result_context_and_sequence_protocol() -> None:
    s = _search()
    assert len(s) == 2 and s[0].rank == 1 and s.indices == [4, 0]
    assert s.context() == f"[1] {XSS}\n\n[2] plain"
    assert (
        s.context("{rank}. ({score:.1f}) {document}", sep="\n") == f"1. (0.9) {XSS}\n2. (0.5) plain"
    )
    assert isinstance(s.context(), str)
    np.testing.assert_allclose(s.scores, [0.9, 0.5])
