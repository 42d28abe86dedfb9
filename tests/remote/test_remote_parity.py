"""Parity with a REAL llama-server on the same GGUF: the in-kernel engine, RemoteModel and the
server's raw answers must agree.

Each server runs with the same flash-attention setting as the LocalModel it is compared with
(flash attention changes encoder outputs at the 1e-6..1e-5 level on its own).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_servers import LlamaServer

from embed_nb.engine import LocalModel
from embed_nb.engine.remote import RemoteModel

ATOL = 1e-4  # the bar; measured differences are printed with -s and are far smaller
TEXTS = [
    "The cat sits on the mat",
    "A feline rests on the rug",
    "Python programming language",
    "the quick brown fox jumps over the lazy dog",
    "hello",
    "",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
]
NORMALIZE = [-1, 0, 1, 2, 3]
POOLED = ["bert_mean_path", "bert_cls_path", "llama_last_path"]

Factory = Callable[..., LlamaServer]


def raw_vectors(server: LlamaServer, inputs: Any, normalize: int) -> tuple[np.ndarray, int]:
    """The server's own /v1/embeddings answer, decoded without any embed_nb code."""
    status, body = server.post(
        "/v1/embeddings",
        {"input": inputs, "encoding_format": "base64", "embd_normalize": normalize},
    )
    assert status == 200, body
    rows = [
        np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4")
        for d in sorted(body["data"], key=lambda d: d["index"])
    ]
    return np.stack(rows), body["usage"]["prompt_tokens"]


def report(label: str, a: np.ndarray, b: np.ndarray) -> float:
    diff = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    print(f"{label}: max |diff| = {diff:.2e}")
    return diff


@pytest.mark.parametrize("flash_attn", ["off", "on"])
@pytest.mark.parametrize("fixture", POOLED)
def test_pooled_embeddings_match_the_server(
    fixture: str, flash_attn: str, server_factory: Factory, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    if fixture.startswith("llama") and flash_attn == "on":
        pytest.skip("the engine turns flash attention off for decoders (its KV cache needs it)")
    server = server_factory(path, flash_attn=flash_attn)
    with (
        LocalModel(path, flash_attn=flash_attn) as local,
        RemoteModel(server.url, batch_size=3) as remote,
    ):
        assert remote.pooling == "pooled" and remote.n_embd == local.n_embd
        for mode in NORMALIZE:
            expected, usage = raw_vectors(server, TEXTS, mode)
            mine = local.embed(TEXTS, normalize=mode)
            theirs = remote.embed(TEXTS, normalize=mode)
            scale = 32760.0 if mode == 0 else 1.0  # mode 0 scales to the int16 range
            # RemoteModel only moves the server's bytes; it splits the call into several
            # requests, which may batch differently on the server: float rounding only.
            np.testing.assert_allclose(np.asarray(theirs), expected, rtol=0, atol=1e-6 * scale)
            diff = report(f"{fixture} fa={flash_attn} norm={mode}", np.asarray(mine), expected)
            assert diff <= ATOL * scale
            assert mine.total_tokens == theirs.total_tokens == usage
            assert theirs.normalize == mine.normalize == mode


@pytest.mark.parametrize("fixture", POOLED)
def test_single_inputs_and_per_text_token_counts_match(
    fixture: str, server_factory: Factory, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    server = server_factory(path)
    with LocalModel(path, flash_attn="off") as local, RemoteModel(server.url) as remote:
        for text in TEXTS:
            expected, usage = raw_vectors(server, text, 2)
            mine, theirs = local.embed(text), remote.embed(text)
            assert np.asarray(theirs).shape == np.asarray(mine).shape == (local.n_embd,)
            np.testing.assert_array_equal(np.asarray(theirs), expected[0])
            assert report(f"{fixture} single {text!r}", np.asarray(mine), expected[0]) <= ATOL
            assert mine.token_counts == theirs.token_counts == [usage]
            assert remote.tokenize(text) == local.tokenize(text)


def test_pooling_none_matches_the_server_token_by_token(
    bert_none_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_none_path)
    status, body = server.post("/embeddings", {"input": TEXTS})
    assert status == 200
    expected = [
        np.asarray(d["embedding"], np.float32) for d in sorted(body, key=lambda d: d["index"])
    ]
    with LocalModel(bert_none_path, flash_attn="off") as local, RemoteModel(server.url) as remote:
        assert remote.pooling == "none"
        for mode in NORMALIZE:  # ignored for pooling none, by both
            mine, theirs = local.embed(TEXTS, normalize=mode), remote.embed(TEXTS, normalize=mode)
            assert theirs.token_vectors is not None and mine.token_vectors is not None
            for a, b, c in zip(mine.token_vectors, theirs.token_vectors, expected, strict=True):
                assert a.shape == b.shape == c.shape
                np.testing.assert_allclose(b, c, rtol=0, atol=1e-6)
                assert report("none", a, c) <= ATOL
            assert mine.token_counts == theirs.token_counts == [len(c) for c in expected]
            assert theirs.extra["token_counts_exact"]


def test_token_ids_embed_like_the_text_they_came_from(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path)
    with LocalModel(bert_mean_path, flash_attn="off") as local, RemoteModel(server.url) as remote:
        ids = [local.tokenize(t) for t in TEXTS]
        from_ids = remote.embed_tokens(ids)
        np.testing.assert_allclose(
            np.asarray(from_ids), np.asarray(remote.embed(TEXTS)), rtol=0, atol=1e-6
        )
        assert report("ids", np.asarray(local.embed_tokens(ids)), np.asarray(from_ids)) <= ATOL
        assert from_ids.token_counts == [len(i) for i in ids]


# --- rerank --------------------------------------------------------------------------------

QUERY = "what is machine learning"
DOCS = [
    "machine learning is a field of computer science",
    "the cat sits on the mat",
    "paris is the capital of france",
    "models learn from data",
    "a dog eats food",
]


@pytest.mark.parametrize("fixture", ["reranker_path", "templated_reranker_path"])
@pytest.mark.parametrize("top_n", [None, 0, 2, 5, 99])
def test_rerank_matches_the_server(
    fixture: str, top_n: int | None, server_factory: Factory, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    server = server_factory(path, mode="reranking")
    payload: dict[str, Any] = {"query": QUERY, "documents": DOCS}
    if top_n is not None:
        payload["top_n"] = top_n
    status, body = server.post("/v1/rerank", payload)
    assert status == 200, body
    with (
        LocalModel(path, flash_attn="off") as local,
        RemoteModel(server.url, batch_size=2) as remote,
    ):
        assert remote.is_reranker
        mine, theirs = local.rerank(QUERY, DOCS, top_n), remote.rerank(QUERY, DOCS, top_n)
    served = [(r["index"], r["relevance_score"]) for r in body["results"]]
    assert [h.index for h in mine] == [h.index for h in theirs] == [i for i, _ in served]
    if served:
        diff = report(f"{fixture} top_n={top_n}", mine.scores, np.array([s for _, s in served]))
        assert diff <= ATOL
        np.testing.assert_allclose(theirs.scores, [s for _, s in served], atol=1e-6)
    assert mine.total_tokens == theirs.total_tokens == body["usage"]["prompt_tokens"]
