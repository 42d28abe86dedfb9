"""RemoteModel's client side against a FAKE server (stdlib http.server, not llama-server).

These tests pin down what a real server will not do on demand: retries, timeouts, garbage,
header handling, request splitting and the API key's secrecy. They need no llama.cpp binary.
Parity and real faults against a real llama-server are in the other test files here.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from llama_servers import FakeServer, llama_like
from ports import free_port

import embed_nb
from embed_nb import InvalidInputError, ModelClosedError, NotARerankerError, RemoteError
from embed_nb.engine.normalize import normalize
from embed_nb.engine.remote import PROBE_TEXT, RemoteModel, Secret

KEY = "sk-test-very-secret-123"
MakeFake = Callable[..., FakeServer]
PROBE = PROBE_TEXT.encode()  # the one text a llama-server is sent at load, for the fingerprint


def b64(*values: float) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def by_text(payload: dict[str, Any]) -> tuple[int, bytes]:
    """Embeddings that encode each input (its length), served in reverse index order and
    normalised as asked, as llama-server does."""
    inputs = payload["input"]
    raw = np.array([[len(t), 1.0, 0.0, 0.0] for t in inputs], dtype=np.float32)
    rows = normalize(raw, payload.get("embd_normalize", 2))
    data = [{"index": i, "embedding": b64(*row)} for i, row in enumerate(rows.tolist())]
    tokens = sum(len(t.split()) + 2 for t in inputs)
    return 200, json.dumps({"data": data[::-1], "usage": {"prompt_tokens": tokens}}).encode()


def test_load_model_with_a_url_gives_a_remote_model(fake_server: MakeFake) -> None:
    server = fake_server(llama_like())
    model = embed_nb.load_model(server.url)
    assert isinstance(model, RemoteModel)
    assert model.kind == "llama-server" and model.name == "fake" and model.pooling == "pooled"
    assert model.n_embd == 4 and model.info.n_ctx == 64 and model.info.n_contexts == 2
    assert model.fingerprint.startswith("remote-")
    assert "RemoteModel 'fake'" in repr(model)
    model.close()
    assert model.closed
    with pytest.raises(ModelClosedError):
        model.embed("x")


def test_remote_only_options_are_refused_for_a_local_source() -> None:
    with pytest.raises(InvalidInputError, match="api_key only applies to a server URL"):
        embed_nb.load_model("all-minilm-l6-v2", api_key="x")


@pytest.mark.parametrize(
    "url", ["ftp://host", "http://", "http://user:pw@host:1", "http://host:1/?q=1", "http://h:x"]
)
def test_bad_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(InvalidInputError):
        RemoteModel(url)


def test_vectors_come_back_in_input_order_across_concurrent_requests(fake_server: MakeFake) -> None:
    server = fake_server(llama_like(by_text))
    texts = [("word " * (i % 17)).strip() or "x" for i in range(101)]
    seen: list[tuple[int, int]] = []
    with RemoteModel(server.url, batch_size=8) as model:
        result = model.embed(texts, normalize=-1, progress=lambda d, t: seen.append((d, t)))
    vectors = np.asarray(result)
    assert vectors.shape == (101, 4)
    np.testing.assert_array_equal(vectors[:, 0], [len(t) for t in texts])
    posts = [
        r
        for r in server.requests
        if r[1] == "/v1/embeddings" and b'"input": []' not in r[3] and PROBE not in r[3]
    ]
    assert len(posts) == 13  # ceil(101 / 8)
    payload = json.loads(posts[0][3])
    assert payload["encoding_format"] == "base64" and payload["embd_normalize"] == -1
    assert payload["model"] == "fake"
    assert seen[-1] == (101, 101)
    assert result.total_tokens == sum(len(t.split()) + 2 for t in texts)
    assert result.extra["token_counts_exact"] is False


def test_one_text_per_request_gives_exact_token_counts(fake_server: MakeFake) -> None:
    server = fake_server(llama_like(by_text))
    with RemoteModel(server.url) as model:  # concurrency 2 (the fake's slots)
        result = model.embed(["a b", "c d e"])
        assert np.asarray(model.embed("abc")).shape == (4,)
    assert result.token_counts == [4, 5] and result.extra["token_counts_exact"] is True


def test_a_server_error_carries_the_servers_own_message(fake_server: MakeFake) -> None:
    def refuse(payload: dict[str, Any]) -> tuple[int, bytes]:
        message = "input (600 tokens) is too large to process. increase the physical batch size"
        return 500, json.dumps({"error": {"code": 500, "message": message}}).encode()

    server = fake_server(llama_like(refuse))
    with RemoteModel(server.url, retries=0) as model, pytest.raises(RemoteError) as caught:
        model.embed("x")
    assert caught.value.status == 500
    assert "too large to process" in str(caught.value)


def test_garbage_json_is_a_clear_error(fake_server: MakeFake) -> None:
    server = fake_server(llama_like(lambda payload: (200, b"<html>not json{")))
    with RemoteModel(server.url) as model, pytest.raises(RemoteError, match="not JSON"):
        model.embed("x")


def test_json_of_the_wrong_shape_is_a_clear_error(fake_server: MakeFake) -> None:
    server = fake_server(llama_like(lambda payload: (200, b'{"data": [{"index": 0}]}')))
    with RemoteModel(server.url) as model, pytest.raises(RemoteError, match="unexpected shape"):
        model.embed("x")


def test_fewer_vectors_than_inputs_is_an_error_not_a_short_result(fake_server: MakeFake) -> None:
    one = json.dumps({"data": [{"index": 0, "embedding": b64(1, 0, 0, 0)}]}).encode()
    server = fake_server(llama_like(lambda payload: (200, one)))
    with (
        RemoteModel(server.url, concurrency=1) as model,
        pytest.raises(RemoteError, match="1 results for 2"),
    ):
        model.embed(["a", "b"])


def test_503_is_retried_with_backoff_then_succeeds(fake_server: MakeFake) -> None:
    calls = {"n": 0}

    def flaky(payload: dict[str, Any]) -> tuple[int, bytes]:
        calls["n"] += 1
        if calls["n"] <= 2:
            return 503, json.dumps({"error": {"message": "Loading model", "code": 503}}).encode()
        return by_text(payload)

    server = fake_server(llama_like(flaky))
    with RemoteModel(server.url, backoff=0.01) as model:
        assert np.asarray(model.embed("abc", normalize=-1))[0] == 3
    assert calls["n"] == 3


def test_503_forever_gives_up_after_the_bounded_retries(fake_server: MakeFake) -> None:
    calls = {"n": 0}

    def busy(payload: dict[str, Any]) -> tuple[int, bytes]:
        calls["n"] += 1
        return 503, json.dumps({"error": {"message": "Loading model", "code": 503}}).encode()

    server = fake_server(llama_like(busy))
    with (
        RemoteModel(server.url, retries=2, backoff=0.01) as model,
        pytest.raises(RemoteError, match=r"503.*Loading model") as caught,
    ):
        model.embed("x")
    assert caught.value.status == 503 and calls["n"] == 3


def test_one_failed_request_fails_the_whole_call(fake_server: MakeFake) -> None:
    def sometimes(payload: dict[str, Any]) -> tuple[int, bytes]:
        if "bad" in payload["input"]:
            return 400, json.dumps({"error": {"message": "nope"}}).encode()
        return by_text(payload)

    server = fake_server(llama_like(sometimes))
    texts = ["ok"] * 20 + ["bad"] + ["ok"] * 20
    with RemoteModel(server.url, batch_size=4) as model:
        with pytest.raises(RemoteError, match=r"400.*nope"):
            model.embed(texts)
        assert len(model.embed(["ok"] * 5)) == 5  # still usable afterwards


def test_a_server_slower_than_the_timeout_is_a_clear_error(fake_server: MakeFake) -> None:
    def slow(payload: dict[str, Any]) -> tuple[int, bytes]:
        time.sleep(2)
        return by_text(payload)

    server = fake_server(llama_like(slow))
    with RemoteModel(server.url, timeout=0.3) as model:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"no answer within 0.3 s"):
            model.embed("x")
        assert time.monotonic() - started < 1.5  # not retried


def test_a_keep_alive_connection_the_server_dropped_is_replaced_without_backoff(
    fake_server: MakeFake,
) -> None:
    # llama-server closes idle keep-alive connections after 5 s; that must cost no retry delay.
    server = fake_server(llama_like(by_text), drop_idle=True)
    with RemoteModel(server.url, retries=1, backoff=10) as model:
        started = time.monotonic()
        for _ in range(3):
            assert np.asarray(model.embed("abc", normalize=-1))[0] == 3
        assert time.monotonic() - started < 2


def test_nothing_listening_is_a_clear_error_after_retries() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"could not reach the server.*3 attempts"):
        RemoteModel(f"http://127.0.0.1:{port}", retries=2, backoff=0.01)
    assert time.monotonic() - started < 2


def test_the_api_key_is_sent_but_never_shown(fake_server: MakeFake) -> None:
    def echo_auth(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        auth = next((h[2].get("Authorization") for h in reversed(server.requests)), None)
        if path == "/v1/embeddings" and json.loads(body).get("input") == ["leak"]:
            return 401, json.dumps({"error": {"message": f"bad key {auth}"}}).encode()
        return llama_like(by_text)(method, path, body)

    server = fake_server(echo_auth)
    model = RemoteModel(server.url, api_key=KEY)
    assert all(r[2].get("Authorization") == f"Bearer {KEY}" for r in server.requests)
    with pytest.raises(RemoteError) as caught:
        model.embed(["leak"])
    shown = [repr(model), str(caught.value), repr(caught.value), repr(model.info), str(vars(model))]
    assert not any(KEY in text for text in shown)
    assert "bad key Bearer ***" in str(caught.value)
    model.close()


def test_the_api_key_comes_from_the_environment(
    fake_server: MakeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server(llama_like())
    monkeypatch.setenv("EMBED_NB_API_KEY", KEY)
    RemoteModel(server.url).close()
    assert server.requests[-1][2]["Authorization"] == f"Bearer {KEY}"
    assert repr(Secret(KEY)) == "'***'" and KEY not in f"{Secret(KEY)}"


def test_openai_kind_speaks_only_v1_embeddings(fake_server: MakeFake) -> None:
    def openai(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/models":
            return 200, json.dumps({"data": [{"id": "a"}, {"id": "b"}]}).encode()
        if path == "/v1/embeddings":
            payload = json.loads(body)
            data = [{"index": i, "embedding": [3.0, 4.0]} for i in range(len(payload["input"]))]
            return 200, json.dumps({"data": data, "usage": {"prompt_tokens": 7}}).encode()
        return 404, b'{"error": {"message": "not found"}}'

    server = fake_server(openai)
    with pytest.raises(InvalidInputError, match="pass model="):
        RemoteModel(server.url, kind="openai")
    with RemoteModel(server.url, kind="openai", model="b") as model:
        assert model.pooling == "pooled" and model.name == "b"
        np.testing.assert_allclose(np.asarray(model.embed("x")), [0.6, 0.8])
        np.testing.assert_allclose(np.asarray(model.embed("x", normalize=1)), [3 / 7, 4 / 7])
        np.testing.assert_allclose(np.asarray(model.embed("x", normalize=-1)), [3, 4])
        with pytest.raises(NotARerankerError):
            model.rerank("q", ["d"])
        with pytest.raises(InvalidInputError, match="needs a llama-server"):
            model.tokenize("x")
    paths = {r[1] for r in server.requests}
    assert paths == {"/v1/models", "/v1/embeddings"}
    payload = json.loads(server.requests[-1][3])
    assert "embd_normalize" not in payload and payload["model"] == "b"


def test_calls_from_several_threads_at_once(fake_server: MakeFake) -> None:
    server = fake_server(llama_like(by_text))
    errors: list[BaseException] = []
    with RemoteModel(server.url, batch_size=3) as model:

        def work() -> None:
            try:
                for _ in range(5):
                    texts = ["ab", "abc", "a"] * 5
                    assert np.asarray(model.embed(texts, normalize=-1))[:, 0].tolist() == [
                        len(t) for t in texts
                    ]
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
