"""Parity with a REAL llama-server on the same GGUF: the in-kernel engine, RemoteModel and the
server's raw answers must agree.

Settings that change the numbers are matched on both sides:
- flash attention: the server gets the LocalModel's ``-fa`` setting;
- the KV cache type for decoders: the engine keeps it in f32, the server's default is f16
  (about 3e-4 apart on the tiny llama), so its server gets ``-ctk f32 -ctv f32``;
- batch composition: llama.cpp's CPU flash-attention kernel rounds differently once a ubatch
  holds several sequences (up to ~1e-3 on raw vectors, in the engine and the server alike), so
  with ``-fa on`` the server gets enough slots (``-np 8``) to decode every text of a call in one
  ubatch, as the engine does, and the client sends one request.
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
F32_KV = ("-ctk", "f32", "-ctv", "f32")


def start(factory: Factory, fixture: str, path: Path, flash_attn: str = "off") -> LlamaServer:
    """A server set up like the LocalModel it is compared with (see the module docstring)."""
    extra = ("-np", "8", *(F32_KV if fixture.startswith("llama") else ()))
    return factory(path, flash_attn=flash_attn, extra=extra)


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
    server = start(server_factory, fixture, path, flash_attn)
    with (
        LocalModel(path, flash_attn=flash_attn) as local,
        RemoteModel(server.url, concurrency=1) as remote,  # the same one request as raw_vectors
    ):
        assert remote.pooling == "pooled" and remote.n_embd == local.n_embd
        for mode in NORMALIZE:
            expected, usage = raw_vectors(server, TEXTS, mode)
            mine = local.embed(TEXTS, normalize=mode)
            theirs = remote.embed(TEXTS, normalize=mode)
            scale = 32760.0 if mode == 0 else 1.0  # mode 0 scales to the int16 range
            # RemoteModel only moves the server's bytes: bit-exact for the same request.
            np.testing.assert_array_equal(np.asarray(theirs), expected)
            diff = report(f"{fixture} fa={flash_attn} norm={mode}", np.asarray(mine), expected)
            assert diff <= ATOL * scale
            assert mine.total_tokens == theirs.total_tokens == usage
            assert theirs.normalize == mine.normalize == mode


@pytest.mark.parametrize("fixture", POOLED)
def test_single_inputs_and_per_text_token_counts_match(
    fixture: str, server_factory: Factory, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    server = start(server_factory, fixture, path)
    with LocalModel(path, flash_attn="off") as local, RemoteModel(server.url) as remote:
        for text in TEXTS:
            expected, usage = raw_vectors(server, text, 2)
            mine, theirs = local.embed(text), remote.embed(text)
            assert np.asarray(theirs).shape == np.asarray(mine).shape == (local.n_embd,)
            np.testing.assert_array_equal(np.asarray(theirs), expected[0])
            assert report(f"{fixture} single {text!r}", np.asarray(mine), expected[0]) <= ATOL
            assert mine.token_counts == theirs.token_counts == [usage]
            assert remote.tokenize(text) == local.tokenize(text)


@pytest.mark.parametrize("fixture", POOLED)
def test_a_call_split_into_concurrent_requests_agrees_with_one_request(
    fixture: str, server_factory: Factory, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    server = start(server_factory, fixture, path)
    texts = TEXTS * 5
    expected, usage = raw_vectors(server, texts, 2)
    with RemoteModel(server.url, batch_size=3, concurrency=4) as remote:
        result = remote.embed(texts)
    assert report(f"{fixture} split", np.asarray(result), expected) <= ATOL
    assert result.total_tokens == usage and len(result.token_counts) == len(texts)


def test_pooling_none_matches_the_server_token_by_token(
    bert_none_path: Path, server_factory: Factory
) -> None:
    server = start(server_factory, "bert", bert_none_path)
    status, body = server.post("/embeddings", {"input": TEXTS})
    assert status == 200
    expected = [
        np.asarray(d["embedding"], np.float32) for d in sorted(body, key=lambda d: d["index"])
    ]
    with (
        LocalModel(bert_none_path, flash_attn="off") as local,
        RemoteModel(server.url, concurrency=1) as remote,  # the same one request as above
    ):
        assert remote.pooling == "none"
        for text in TEXTS:  # one text per call: the same decode on both sides
            status, one = server.post("/embeddings", {"input": text})
            mine, theirs = local.embed(text), remote.embed(text)
            assert mine.token_vectors is not None and theirs.token_vectors is not None
            served = np.asarray(one[0]["embedding"], np.float32)
            np.testing.assert_array_equal(theirs.token_vectors[0], served)
            assert report(f"none single {text!r}", mine.token_vectors[0], served) <= ATOL
        for mode in NORMALIZE:  # ignored for pooling none, by both
            mine, theirs = local.embed(TEXTS, normalize=mode), remote.embed(TEXTS, normalize=mode)
            assert theirs.token_vectors is not None and mine.token_vectors is not None
            for a, b, c in zip(mine.token_vectors, theirs.token_vectors, expected, strict=True):
                assert a.shape == b.shape == c.shape
                # Raw per-token vectors (|v| up to ~2.5 here) from decodes packed differently
                # (the engine sorts by length) round apart by up to ~1e-4 of their size.
                scale = max(1.0, float(np.abs(c).max()))
                assert report("none packed", a, c) <= ATOL * scale
                np.testing.assert_array_equal(b, c)
            assert mine.token_counts == theirs.token_counts == [len(c) for c in expected]
            assert theirs.extra["token_counts_exact"]


def test_token_ids_embed_like_the_text_they_came_from(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = start(server_factory, "bert", bert_mean_path)
    with (
        LocalModel(bert_mean_path, flash_attn="off") as local,
        RemoteModel(server.url, concurrency=1) as remote,
    ):
        ids = [local.tokenize(t) for t in TEXTS]
        from_ids = remote.embed_tokens(ids)
        np.testing.assert_array_equal(np.asarray(from_ids), np.asarray(remote.embed(TEXTS)))
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
        # batch_size=2 splits the documents over requests: rounding may differ a little.
        assert report("rerank remote", theirs.scores, np.array([s for _, s in served])) <= ATOL
    assert mine.total_tokens == theirs.total_tokens == body["usage"]["prompt_tokens"]
