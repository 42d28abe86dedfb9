"""Model.rerank: llama-server's pair format, raw RANK scores, sorting and top_n."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed_nb import InvalidInputError, NotARerankerError
from embed_nb.engine import LocalModel

QUERY = "What is a panda?"
DOCS = [
    "hi",
    "it's a bear",
    "The giant panda is a bear species endemic to China.",
    "what is panda?",
]


def test_scores_are_the_raw_rank_output_sorted_best_first(reranker_path: Path) -> None:
    # Flash attention computes in f16, so a score moves in the 4th decimal with what shares
    # its decode; without it, packed and single scores are bit-equal, which this test needs.
    with LocalModel(reranker_path, flash_attn="off") as model:
        assert model.is_reranker and model.pooling == "rank"
        result = model.rerank(QUERY, DOCS)
        assert sorted(h.index for h in result) == [0, 1, 2, 3]
        assert list(result.scores) == sorted(result.scores, reverse=True)
        assert [h.document for h in result] == [DOCS[h.index] for h in result]
        # Each score is element 0 of the RANK-pooled output for [CLS] q [SEP] d [SEP].
        for hit in result:
            pair = model.tokenize(QUERY) + model.tokenize(DOCS[hit.index])[1:]
            raw = np.asarray(model.embed_tokens([pair], normalize=-1))[0]
            assert hit.score == pytest.approx(float(raw[0]), abs=1e-5)
        expected_tokens = sum(len(model.tokenize(QUERY)) + len(model.tokenize(d)) - 1 for d in DOCS)
        assert result.total_tokens == expected_tokens
        assert result.method == "rank"


def test_flash_attention_scores_agree_with_exact_ones(reranker_path: Path) -> None:
    with LocalModel(reranker_path) as fast, LocalModel(reranker_path, flash_attn="off") as exact:
        got = {h.index: h.score for h in fast.rerank(QUERY, DOCS)}
        want = {h.index: h.score for h in exact.rerank(QUERY, DOCS)}
    assert got == pytest.approx(want, abs=2e-3)


def test_top_n_cuts_the_sorted_list(reranker_path: Path) -> None:
    with LocalModel(reranker_path) as model:
        full = model.rerank(QUERY, DOCS)
        top = model.rerank(QUERY, DOCS, top_n=2)
        assert [h.index for h in top] == [h.index for h in full][:2]
        assert len(model.rerank(QUERY, DOCS, top_n=10)) == 4
        assert len(model.rerank(QUERY, DOCS, top_n=0)) == 0
        with pytest.raises(InvalidInputError, match="top_n"):
            model.rerank(QUERY, DOCS, top_n=-1)


def test_the_rerank_template_is_used_when_the_gguf_has_one(templated_reranker_path: Path) -> None:
    with LocalModel(templated_reranker_path, flash_attn="off") as model:
        result = model.rerank(QUERY, DOCS[:2])
        for hit in result:
            prompt = f"query: {QUERY} document: {DOCS[hit.index]}"
            ids = model.tokenize(prompt, add_special=False)
            raw = np.asarray(model.embed_tokens([ids], normalize=-1))[0]
            assert hit.score == pytest.approx(float(raw[0]), abs=1e-5)


def test_an_embedding_model_is_not_a_reranker(bert_mean: LocalModel) -> None:
    with pytest.raises(NotARerankerError, match="not 'rank'"):
        bert_mean.rerank(QUERY, DOCS)


@pytest.mark.parametrize(
    ("query", "docs"),
    [(None, DOCS), (QUERY, []), (QUERY, "a string"), (QUERY, ["ok", 3]), ("\ud800", DOCS)],
)
def test_bad_rerank_input_is_refused(reranker_path: Path, query: object, docs: object) -> None:
    with LocalModel(reranker_path) as model:
        with pytest.raises(InvalidInputError):
            model.rerank(query, docs)  # type: ignore[arg-type]
        assert len(model.rerank(QUERY, DOCS)) == 4


def test_a_pair_longer_than_the_context_is_an_error_unless_truncated(reranker_path: Path) -> None:
    with LocalModel(reranker_path) as model:
        long_doc = "bear " * (model.max_tokens * 2)
        with pytest.raises(InvalidInputError, match="tokens"):
            model.rerank(QUERY, ["short", long_doc])
        result = model.rerank(QUERY, ["short", long_doc], truncate=True)
        assert len(result) == 2
