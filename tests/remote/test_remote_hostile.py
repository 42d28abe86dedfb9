"""RemoteModel against HOSTILE FAKE servers (NOT llama-server): a real llama-server cannot be made
to echo keys, lie about itself, dribble bytes or send NaN, so these fakes do it on purpose.

Each kind from the hardening issue has tests here: keys shown, hangs and memory, answers not
validated, fingerprints shared between servers, and bad URLs and options. Every failure must be
a one-line :class:`RemoteError` or :class:`InvalidInputError`; nothing wrong is returned.
"""

from __future__ import annotations

import base64
import json
import pickle
import random
import struct
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from hostile_server import HostileServer, Write, head
from llama_servers import FakeServer, llama_like
from ports import free_port

import embed_nb
from embed_nb import EmbedNbError, InvalidInputError, RemoteError
from embed_nb.engine.remote import PROBE_TEXT, RemoteModel, Secret, resolve_api_key
from embed_nb.registry import ModelRegistry

# Visible ASCII with characters that URL-, JSON- and base64-encoding all change.
KEY = 'sk-Hostile/Key+With=Specials"And~123'
MakeFake = Callable[..., FakeServer]
Handler = Callable[[str, str, bytes], tuple[int, bytes]]


def b64(*values: float) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def ok_answer(n: int = 2, dim: int = 4) -> dict[str, Any]:
    data = [{"index": i, "embedding": b64(*([float(i + 1)] * dim))} for i in range(n)]
    return {"data": data, "usage": {"prompt_tokens": 3 * n}}


def answering(answer: Any, status: int = 200) -> Handler:
    """A llama-like fake whose embeddings answer (after discovery) is ``answer``."""
    raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    return llama_like(lambda payload: (status, raw))


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "\r" not in text and len(text) < 1200, text
    return text


def key_forms(key: str) -> list[str]:
    """Spellings of the key that must never be shown (the base64 ones at each offset)."""
    forms = [key, key.upper(), key.lower(), quote(key, safe=""), json.dumps(key)[1:-1]]
    for prefix in (b"", b"Bearer ", b":", b"x", b"xy"):
        forms.append(base64.b64encode(prefix + key.encode()).decode()[8:-4])
    return forms


def assert_no_key(*texts: str, key: str = KEY) -> None:
    for text in texts:
        for form in key_forms(key):
            assert form.lower() not in text.lower(), (form, text)


# --- keys shown ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "echo",
    [
        lambda k: k,
        lambda k: k.upper(),
        lambda k: f"Bearer {k}",
        lambda k: f"bearer {k.lower()}",
        lambda k: quote(f"Bearer {k}", safe=""),
        lambda k: json.dumps({"h": k}),
        lambda k: base64.b64encode(k.encode()).decode(),
        lambda k: base64.b64encode(f"Bearer {k}".encode()).decode(),
        lambda k: base64.b64encode(f"user:{k}".encode()).decode(),
        lambda k: "x" * 5 + base64.urlsafe_b64encode(b"zz" + k.encode()).decode(),
        lambda k: k.encode().hex().upper(),
    ],
    ids=[
        "exact",
        "upper",
        "bearer",
        "bearer-lower",
        "urlenc",
        "json",
        "b64",
        "b64-bearer",
        "b64-basic",
        "b64url-offset",
        "hex",
    ],
)
@pytest.mark.parametrize("status", [401, 500, 200, 302])
def test_an_echoed_key_is_blanked_in_every_spelling(
    echo: Callable[[str], str], status: int, fake_server: MakeFake
) -> None:
    echoed = echo(KEY)
    if status == 200:  # in a malformed answer
        answer: Any = f"not json {echoed}".encode()
    else:
        answer = {"error": {"message": f"bad header {echoed}"}}
    server = fake_server(answering(answer, status))
    with RemoteModel(server.url, api_key=KEY, retries=0) as model:
        assert server.requests[-1][2]["Authorization"] == f"Bearer {KEY}"
        with pytest.raises(RemoteError) as caught:
            model.embed(["a", "b"])
    assert_no_key(one_line(caught.value), repr(caught.value))


def test_a_key_cut_in_half_by_the_size_cap_is_not_shown(fake_server: MakeFake) -> None:
    # The error body is read up to 64 KiB: a key straddling that edge must not show in part.
    body = ("x" * (64 * 1024 - 10) + KEY + "y" * 100).encode()
    server = fake_server(answering(body, 500))
    with (
        RemoteModel(server.url, api_key=KEY, retries=0) as model,
        pytest.raises(RemoteError) as caught,
    ):
        model.embed("a")
    assert KEY[:8] not in str(caught.value)


def test_server_supplied_names_and_paths_never_show_the_key(fake_server: MakeFake) -> None:
    coded = base64.b64encode(f"Bearer {KEY}".encode()).decode()
    inner = llama_like()

    def lying(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/props":
            props = {"total_slots": 2, "model_path": f"/m/{KEY.upper()}.gguf", "build_info": coded}
            return 200, json.dumps(props).encode()
        if path == "/v1/models":
            meta = {"n_embd": 4, "n_ctx": 64, "vocab_type": KEY, "ftype": f"q8 {KEY}"}
            return 200, json.dumps({"data": [{"id": f"model\n{KEY}", "meta": meta}]}).encode()
        return inner(method, path, body)

    server = fake_server(lying)
    model = RemoteModel(server.url, api_key=KEY)
    result = model.embed(["a"])
    # The id goes back to the server exactly as the server gave it...
    assert json.loads(server.requests[-1][3])["model"] == f"model\n{KEY}"
    registry = ModelRegistry()
    registry.add(model)
    shown = [
        repr(model), model.name, model.model_id, repr(model.info), str(model.info.as_dict()),
        str(vars(model)), repr(registry), registry.resident(None).summary(), str(result.model),
    ]  # fmt: skip
    assert_no_key(*shown)  # ...but nothing shown has it
    assert "\n" not in model.name
    model.close()
    with pytest.raises(EmbedNbError) as caught:
        model.embed("x")
    assert_no_key(str(caught.value))


@pytest.mark.parametrize(
    "key", ["abc\r\nX-Injected: yes", "abc\ndef", "clé-secrète", "a b", "\x00abc"]
)
def test_a_key_no_header_can_carry_is_refused_without_showing_it(
    key: str, fake_server: MakeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server(llama_like())
    with pytest.raises(InvalidInputError) as caught:
        RemoteModel(server.url, api_key=key)
    errors: list[BaseException] = [caught.value]
    if "\x00" not in key:  # the environment cannot hold a NUL
        monkeypatch.setenv("EMBED_NB_API_KEY", key)
        with pytest.raises(InvalidInputError) as from_env:
            RemoteModel(server.url)
        assert "$EMBED_NB_API_KEY" in str(from_env.value)
        errors.append(from_env.value)
    for error in errors:
        text = one_line(error)
        assert "abc" not in text and "Injected" not in text and "secr" not in text
    assert server.requests == []  # refused before anything was sent


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:1/?api_key={KEY}",
        f"http://127.0.0.1:1/v1#{KEY}",
        f"http://user:{KEY}@127.0.0.1:1",
        f"http://{KEY}@127.0.0.1:1",
        f"http://[::1?key={KEY}",
        f"http://u:{KEY}@[::1",
        f"http://127.0.0.1:99999/?k={KEY}",
    ],
)
def test_a_key_in_the_url_is_refused_and_never_echoed(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RemoteModel(url)
    assert_no_key(one_line(caught.value))


def test_environment_keys_go_only_to_allowed_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBED_NB_API_KEY_HOSTS", raising=False)
    monkeypatch.setenv("EMBED_NB_API_KEY", KEY)
    sent = lambda url, **kw: resolve_api_key(None, "llama-server", url, **kw)  # noqa: E731
    for url in (
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:1",
        "http://127.1.2.3",
    ):
        assert isinstance(sent(url), Secret), url
    assert sent("https://api.example.com/v1") is None  # set for another server
    assert sent("http://192.0.2.7:8080") is None
    assert resolve_api_key(None, "llama-server") is None  # no URL: no idea where it would go

    monkeypatch.setenv("EMBED_NB_API_KEY_HOSTS", "api.example.com, other:9000")
    assert isinstance(sent("https://api.example.com/v1"), Secret)
    assert isinstance(sent("https://OTHER:9000"), Secret)
    assert sent("https://other:9001") is None
    with pytest.raises(InvalidInputError, match="plain http") as caught:
        sent("http://api.example.com")  # listed, but plain http to another machine
    assert_no_key(str(caught.value))
    assert isinstance(sent("http://api.example.com", allow_insecure=True), Secret)

    monkeypatch.setenv("EMBED_NB_API_KEY_HOSTS", "*")
    assert isinstance(sent("https://anything.example"), Secret)

    monkeypatch.delenv("EMBED_NB_API_KEY")
    monkeypatch.delenv("EMBED_NB_API_KEY_HOSTS")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert isinstance(resolve_api_key(None, "openai", "https://api.openai.com/v1"), Secret)
    assert resolve_api_key(None, "openai", "https://api.elsewhere.example/v1") is None


def test_a_key_is_never_sent_over_plain_http_to_another_machine() -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="allow_insecure=True") as caught:
        RemoteModel("http://192.0.2.7:9", api_key=KEY, connect_timeout=0.2, retries=0)
    assert time.monotonic() - started < 1  # refused before any connection was tried
    assert_no_key(one_line(caught.value))
    # With the opt-in it goes on to connect (and this documentation address answers nothing).
    with pytest.raises(RemoteError):
        RemoteModel(
            "http://192.0.2.7:9", api_key=KEY, allow_insecure=True, connect_timeout=0.2, retries=0
        )


def test_a_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(KEY))
    assert Secret(KEY).scrub(f"x {KEY.upper()} y") == "x *** y"


# --- hangs and memory ---------------------------------------------------------------------------


def dribble_body(server: HostileServer, method: str, path: str, body: bytes, write: Write) -> None:
    write(head(200, 10_000))
    for _ in range(200):  # bounded: 200 bytes at most, 20 s at most
        if server.stopping.wait(0.1):
            return
        write(b" ")


def dribble_head(server: HostileServer, method: str, path: str, body: bytes, write: Write) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
        if server.stopping.wait(0.1):
            return
        write(bytes([byte]))


@pytest.mark.parametrize("misbehave", [dribble_body, dribble_head], ids=["body", "headers"])
def test_a_dribbling_server_cannot_stretch_the_timeout(misbehave: Any) -> None:
    with HostileServer(misbehave) as server:
        model = RemoteModel(server.url, timeout=1, retries=3)
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"no answer within 1 s") as caught:
            model.embed("x")
        elapsed = time.monotonic() - started
        model.close()
    one_line(caught.value)
    assert elapsed < 2.5, elapsed


def test_the_timeout_covers_the_retries_too(fake_server: MakeFake) -> None:
    def slow_503(payload: dict[str, Any]) -> tuple[int, bytes]:
        time.sleep(0.3)
        return 503, b'{"error": {"message": "Loading model"}}'

    server = fake_server(llama_like(slow_503))
    with RemoteModel(server.url, timeout=1, retries=50, backoff=0.01) as model:
        started = time.monotonic()
        with pytest.raises(RemoteError):
            model.embed("x")
        assert time.monotonic() - started < 2


def declared_huge(server: HostileServer, method: str, path: str, body: bytes, write: Write) -> None:
    write(head(200, 600 * 2**20))
    write(b'{"data": [')


def endless(server: HostileServer, method: str, path: str, body: bytes, write: Write) -> None:
    write(head(200, None) + b'{"data": [{"index": 0, "embedding": "')
    for _ in range(64):  # at most 64 MiB, if the client never hung up
        if server.stopping.is_set():
            return
        write(b"A" * 2**20)


def endless_chunked(
    server: HostileServer, method: str, path: str, body: bytes, write: Write
) -> None:
    write(head(200, None, "Transfer-Encoding: chunked"))
    for _ in range(64):
        if server.stopping.is_set():
            return
        write(b"100000\r\n" + b"A" * 2**20 + b"\r\n")


@pytest.mark.parametrize("misbehave", [declared_huge, endless, endless_chunked])
def test_a_huge_answer_is_refused_while_it_arrives(misbehave: Any) -> None:
    with HostileServer(misbehave) as server:
        model = RemoteModel(server.url, timeout=20)
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(RemoteError, match="larger than") as caught:
                model.embed("x")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert time.monotonic() - started < 5
        model.close()
    one_line(caught.value)
    assert peak < 8 * 2**20, peak  # one 4-dim vector can need about 66 KiB, not 600 MB
    assert server.sent < 16 * 2**20


def test_huge_props_are_refused(fake_server: MakeFake) -> None:
    inner = llama_like()

    def huge(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/props":
            return 200, json.dumps({"model_path": "x" * (5 * 2**20)}).encode()
        return inner(method, path, body)

    with pytest.raises(RemoteError, match="larger than") as caught:
        RemoteModel(fake_server(huge).url)
    one_line(caught.value)


# --- answers validated --------------------------------------------------------------------------

NAN = struct.unpack("<f", b"\x00\x00\xc0\x7f")[0]
BAD_EMBEDDINGS: dict[str, Any] = {
    "nan-base64": {"data": [{"index": i, "embedding": b64(NAN, 1, 1, 1)} for i in range(2)]},
    "inf-base64": {"data": [{"index": i, "embedding": b64(float("inf"), 1, 1, 1)} for i in (0, 1)]},
    "nan-literal": b'{"data": [{"index": 0, "embedding": [NaN, 1, 1, 1]},'
    b' {"index": 1, "embedding": [1, 1, 1, 1]}]}',
    "overflow": b'{"data": [{"index": 0, "embedding": [1e999, 1, 1, 1]},'
    b' {"index": 1, "embedding": [1, 1, 1, 1]}]}',
    "f32-overflow": {"data": [{"index": i, "embedding": [1e300, 1, 1, 1]} for i in (0, 1)]},
    "3-dim": ok_answer(dim=3),
    "5-dim": ok_answer(dim=5),
    "mixed-dims": {
        "data": [
            {"index": 0, "embedding": b64(1, 1, 1, 1)},
            {"index": 1, "embedding": b64(1, 1, 1)},
        ]
    },
    "nested": {"data": [{"index": i, "embedding": [[1, 1, 1, 1]]} for i in (0, 1)]},
    "empty-list": {"data": [{"index": i, "embedding": []} for i in (0, 1)]},
    "empty-b64": {"data": [{"index": i, "embedding": ""} for i in (0, 1)]},
    "bad-b64": {"data": [{"index": i, "embedding": "@@@@"} for i in (0, 1)]},
    "odd-b64": {"data": [{"index": i, "embedding": "AAAAAA=="} for i in (0, 1)]},
    "strings": {"data": [{"index": i, "embedding": ["1", "1", "1", "1"]} for i in (0, 1)]},
    "bools": {"data": [{"index": i, "embedding": [True, False, True, True]} for i in (0, 1)]},
    "bool-mixed": {"data": [{"index": i, "embedding": [1.5, True, 0.0, 0.0]} for i in (0, 1)]},
    "huge-int": {"data": [{"index": i, "embedding": [10**400, 1, 1, 1]} for i in (0, 1)]},
    "null": {"data": [{"index": i, "embedding": None} for i in (0, 1)]},
    "index-range": {"data": [{"index": i + 1, "embedding": b64(1, 1, 1, 1)} for i in (0, 1)]},
    "index-negative": {"data": [{"index": -i, "embedding": b64(1, 1, 1, 1)} for i in (0, 1)]},
    "index-duplicate": {"data": [{"index": 0, "embedding": b64(1, 1, 1, 1)} for _ in (0, 1)]},
    "index-bool": {"data": [{"index": i == 1, "embedding": b64(1, 1, 1, 1)} for i in (0, 1)]},
    "index-str": {"data": [{"index": str(i), "embedding": b64(1, 1, 1, 1)} for i in (0, 1)]},
    "index-float": {"data": [{"index": float(i), "embedding": b64(1, 1, 1, 1)} for i in (0, 1)]},
    "index-missing": {"data": [{"embedding": b64(1, 1, 1, 1)} for _ in (0, 1)]},
    "too-few": ok_answer(n=1),
    "too-many": ok_answer(n=3),
    "data-dict": {"data": {"0": b64(1, 1, 1, 1)}},
    "data-items-not-objects": {"data": [b64(1, 1, 1, 1), b64(1, 1, 1, 1)]},
    "body-list": [ok_answer()],
    "body-str": "ok",
    "tokens-negative": {**ok_answer(), "usage": {"prompt_tokens": -5}},
    "tokens-bool": {**ok_answer(), "usage": {"prompt_tokens": True}},
    "tokens-huge": {**ok_answer(), "usage": {"prompt_tokens": 10**12}},
    "tokens-str": {**ok_answer(), "usage": {"prompt_tokens": "6"}},
    "tokens-float": {**ok_answer(), "usage": {"prompt_tokens": 6.5}},
    "usage-list": {**ok_answer(), "usage": [6]},
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    # normalize=2 was asked for: an un-normalised or float32-overflowing answer is refused.
    "not-normalised": {"data": [{"index": i, "embedding": b64(2, 2, 2, 2)} for i in (0, 1)]},
    "norm-overflows": {"data": [{"index": i, "embedding": b64(3e38, 3e38, 1, 1)} for i in (0, 1)]},
}


@pytest.mark.parametrize("answer", BAD_EMBEDDINGS.values(), ids=BAD_EMBEDDINGS.keys())
def test_a_malformed_embeddings_answer_is_refused(answer: Any, fake_server: MakeFake) -> None:
    server = fake_server(answering(answer))
    with RemoteModel(server.url, concurrency=1) as model:
        assert model.n_embd == 4
        with pytest.raises(RemoteError) as caught:
            model.embed(["a", "b"])
    one_line(caught.value)


@pytest.mark.parametrize("status", [301, 302, 307, 308, 201, 204])
def test_a_status_other_than_200_with_a_json_body_is_refused(
    status: int, fake_server: MakeFake
) -> None:
    server = fake_server(answering(ok_answer(), status))
    with RemoteModel(server.url) as model, pytest.raises(RemoteError) as caught:
        model.embed(["a", "b"])
    assert caught.value.status == status
    one_line(caught.value)


def test_out_of_order_indices_are_put_back_in_order(fake_server: MakeFake) -> None:
    answer = ok_answer(n=3)
    answer["data"].reverse()
    server = fake_server(answering(answer))
    with RemoteModel(server.url, concurrency=1) as model:
        vectors = np.asarray(model.embed(["a", "b", "c"], normalize=-1))
    np.testing.assert_array_equal(vectors[:, 0], [1, 2, 3])


def test_a_server_that_changes_its_dimension_is_refused(fake_server: MakeFake) -> None:
    # openai kind: no probe, so the first answer sets the dimension and the rest are held to it.
    dims = iter([3, 4])

    def openai(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/models":
            return 200, b'{"data": [{"id": "m"}]}'
        n = len(json.loads(body)["input"])
        return 200, json.dumps(ok_answer(n, next(dims))).encode()

    server = fake_server(openai)
    with RemoteModel(server.url, kind="openai") as model:
        assert model.n_embd == 0
        assert np.asarray(model.embed("a")).shape == (3,)
        assert model.n_embd == 3
        with pytest.raises(RemoteError, match="4 values"):
            model.embed("b")


def rerank_like(results: Any) -> Handler:
    """A fake reranker: empty document lists refused (how pooling rank is found)."""
    inner = llama_like()

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/rerank":
            if json.loads(body)["documents"] == []:
                return 400, b'{"error": {"message": "documents must not be empty"}}'
            raw = results if isinstance(results, bytes) else json.dumps(results).encode()
            return 200, raw
        return inner(method, path, body)

    return handler


BAD_RERANKS: dict[str, Any] = {
    "duplicate": {"results": [{"index": 0, "relevance_score": 1.0}] * 2},
    "out-of-range": {"results": [{"index": i + 1, "relevance_score": 1.0} for i in (0, 1)]},
    "missing": {"results": [{"index": 0, "relevance_score": 1.0}]},
    "inf": b'{"results": [{"index": 0, "relevance_score": 1e999},'
    b' {"index": 1, "relevance_score": 0}]}',
    "bool": {"results": [{"index": i, "relevance_score": True} for i in (0, 1)]},
    "str": {"results": [{"index": i, "relevance_score": "0.5"} for i in (0, 1)]},
    "not-list": {"results": {"0": 1.0}},
    "tokens": {
        "results": [{"index": i, "relevance_score": 1} for i in (0, 1)],
        "usage": {"prompt_tokens": -1},
    },
}


@pytest.mark.parametrize("answer", BAD_RERANKS.values(), ids=BAD_RERANKS.keys())
def test_a_malformed_rerank_answer_is_refused(answer: Any, fake_server: MakeFake) -> None:
    server = fake_server(rerank_like(answer))
    with RemoteModel(server.url, concurrency=1) as model:
        assert model.is_reranker
        with pytest.raises(RemoteError) as caught:
            model.rerank("q", ["a", "b"])
    one_line(caught.value)


def test_a_good_rerank_answer_still_works(fake_server: MakeFake) -> None:
    good = {"results": [{"index": 1, "relevance_score": 2}, {"index": 0, "relevance_score": -1.5}]}
    server = fake_server(rerank_like(good))
    with RemoteModel(server.url, concurrency=1) as model:
        result = model.rerank("q", ["a", "b"])
    assert [h.index for h in result.hits] == [1, 0]
    assert [h.score for h in result.hits] == [2.0, -1.5]


def none_like(rows: Any) -> Handler:
    """A fake pooling-none server: /v1 refuses, /embeddings answers per-token vectors."""
    inner = llama_like()

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/embeddings":
            return 400, b'{"error": {"message": "Pooling type \'none\' is not OAI compatible"}}'
        if path == "/embeddings":
            inputs = json.loads(body)["input"]
            good = [[0.5, 0.5, 0.5, 0.5]] * 3
            rows_for = good if inputs == [PROBE_TEXT] else rows
            if isinstance(rows_for, bytes):
                return 200, rows_for
            data = [{"index": i, "embedding": rows_for} for i in range(len(inputs))]
            return 200, json.dumps(data).encode()
        return inner(method, path, body)

    return handler


BAD_TOKEN_ROWS: dict[str, Any] = {
    "ragged": [[1, 1, 1, 1], [1, 1, 1]],
    "wrong-dim": [[1, 1, 1]] * 2,
    "too-deep": [[[1, 1, 1, 1]]],
    "flat": [1, 1, 1, 1],
    "empty": [],
    "empty-rows": [[], []],
    "strings": [["1", "1", "1", "1"]],
    "overflow": [[1e300, 1, 1, 1]],
    "more-tokens-than-the-context": [[1, 1, 1, 1]] * 65,
    "not-a-list": b'{"index": 0, "embedding": [[1, 1, 1, 1]]}',
}


@pytest.mark.parametrize("rows", BAD_TOKEN_ROWS.values(), ids=BAD_TOKEN_ROWS.keys())
def test_malformed_per_token_vectors_are_refused(rows: Any, fake_server: MakeFake) -> None:
    server = fake_server(none_like(rows))
    with RemoteModel(server.url) as model:
        assert model.pooling == "none" and model.n_embd == 4
        with pytest.raises(RemoteError) as caught:
            model.embed(["a"])
    one_line(caught.value)


@pytest.mark.parametrize(
    "tokens",
    [[-1], [True], ["1"], [10], [1.0], "12", None, list(range(40))],
    ids=["negative", "bool", "str", "out-of-vocab", "float", "str-list", "none", "too-many"],
)
def test_malformed_tokenize_answers_are_refused(tokens: Any, fake_server: MakeFake) -> None:
    inner = llama_like()

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/tokenize":
            return 200, json.dumps({"tokens": tokens}).encode()
        return inner(method, path, body)

    # n_vocab is 10 in the fake's meta
    with RemoteModel(fake_server(handler).url) as model, pytest.raises(RemoteError) as caught:
        model.tokenize("hello")
    one_line(caught.value)


BAD_PROPS: list[Any] = [
    [], "props", 5, None, {"total_slots": "x"}, {"total_slots": 10**30}, {"total_slots": True},
    {"total_slots": -3}, {"model_path": 5}, {"model_path": "p" * 1_000_000},
    {"default_generation_settings": "x"}, {"default_generation_settings": {"n_ctx": 10**20}},
    {"build_info": ["x"]}, b"[" * 50_000, b"{not json",
]  # fmt: skip
BAD_MODELS: list[Any] = [
    [], "models", {"data": 5}, {"data": [5]}, {"data": [{"id": 5}]}, {"data": [{"id": ""}]},
    {"data": [{"id": "m" * 10_000}]}, {"data": [{"id": "m", "meta": "x"}]},
    {"data": [{"id": "m", "meta": {"n_embd": "x", "n_ctx": True, "n_vocab": -1}}]},
    {"data": [{"id": "m", "meta": {"n_embd": 10**30, "n_ctx": 10**30, "size": -1}}]},
    {"data": [{"id": "m"}, {"id": "n"}]},
]  # fmt: skip


@pytest.mark.parametrize("where", ["/props", "/v1/models"])
def test_malformed_discovery_is_a_clear_error_or_safely_ignored(
    where: str, fake_server: MakeFake
) -> None:
    inner = llama_like()
    bad: dict[str, Any] = {}

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == where:
            value = bad["value"]
            return 200, value if isinstance(value, bytes) else json.dumps(value).encode()
        return inner(method, path, body)

    server = fake_server(handler)
    for value in BAD_PROPS if where == "/props" else BAD_MODELS:
        bad["value"] = value
        try:
            model = RemoteModel(server.url)
        except (RemoteError, InvalidInputError) as error:
            one_line(error)
            continue
        with model:
            info = model.info
            assert model.n_embd == 4 and 1 <= model.concurrency <= 8
            assert all(len(str(v)) <= 400 for v in info.as_dict().values())
            assert all(type(getattr(info, f)) is int for f in ("n_ctx", "vocab_size", "file_size"))
            assert len(repr(model)) < 600
            assert np.asarray(model.embed("x")).shape == (4,)


def test_random_answers_give_a_clean_error_or_a_checked_result(fake_server: MakeFake) -> None:
    rng = random.Random(9)
    current: dict[str, bytes] = {}
    server = fake_server(llama_like(lambda payload: (200, current["answer"])))
    junk: list[Any] = [None, True, -1, 0, 2, 10**20, 1.5, float("inf"), "", "x", "AAAA", [], {},
                       [1, 2], [[1]], {"index": 0}, b64(1, 2, 3, 4), b64(NAN, 1, 1, 1)]  # fmt: skip
    outcomes = {"error": 0, "result": 0}
    with RemoteModel(server.url, concurrency=1) as model:
        for _ in range(300):
            answer: Any = ok_answer()
            for _ in range(rng.randint(1, 3)):
                target = rng.choice(["body", "data", "item", "usage", "index", "embedding"])
                value = rng.choice(junk)
                if target == "body":
                    answer = value
                elif not isinstance(answer, dict):
                    continue
                elif target == "data":
                    answer["data"] = value
                elif target == "usage":
                    answer["usage"] = {"prompt_tokens": value}
                elif isinstance(answer.get("data"), list) and answer["data"]:
                    item = rng.choice(answer["data"])
                    if isinstance(item, dict):
                        key = "embedding" if target in ("embedding", "item") else "index"
                        item[key] = value
            current["answer"] = json.dumps(answer).encode()
            try:
                result = np.asarray(model.embed(["a", "b"], normalize=-1))
            except RemoteError as error:
                one_line(error)
                outcomes["error"] += 1
                continue
            outcomes["result"] += 1
            assert result.shape == (2, 4) and np.isfinite(result).all()
    assert outcomes["error"] > 100 and outcomes["result"] > 0, outcomes


# --- fingerprints -------------------------------------------------------------------------------


def test_the_fingerprint_tells_servers_and_poolings_apart(fake_server: MakeFake) -> None:
    probe = {"vector": b64(0.5, 0.5, 0.5, 0.5)}
    inner = llama_like()

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/embeddings" and json.loads(body).get("input") == [PROBE_TEXT]:
            answer = {"data": [{"index": 0, "embedding": probe["vector"]}]}
            return 200, json.dumps(answer).encode()
        return inner(method, path, body)

    one, two = fake_server(handler), fake_server(handler)
    prints = {}
    for label, url in (("one", one.url), ("two", two.url)):
        with RemoteModel(url) as model:
            prints[label] = model.fingerprint
    with RemoteModel(one.url) as again:
        assert again.fingerprint == prints["one"]  # stable for the same server
    assert prints["one"] != prints["two"]  # same /props, another server
    probe["vector"] = b64(0.8, -0.2, 0.4, 0.4)  # the same server restarted with other pooling
    with RemoteModel(one.url) as repooled:
        assert repooled.fingerprint != prints["one"]
    with RemoteModel(one.url, model="other") as other_model:
        assert other_model.fingerprint not in (prints["one"], prints["two"])


# --- bad URLs and options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1", "http://[::1]:99999", "http://[::1]:0", "http://[zz::1]:80",
        "http://host:0", "http://ho st:1", "http://h\nx:1", "http://h:1/pa th", "http://h:1/\x00",
        "http://h:-1", "http://h:65536", "https://", "http://:80", "ftp://h", "h:1", "",
        123, None, b"http://h:1", ["http://h:1"],
    ],
)  # fmt: skip
def test_a_bad_url_is_a_one_line_error(url: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RemoteModel(url)
    one_line(caught.value)


def test_a_malformed_url_through_load_model_is_a_one_line_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        embed_nb.load_model("http://[::1")
    one_line(caught.value)


BAD_OPTIONS: list[dict[str, Any]] = [
    {"timeout": -1}, {"timeout": 0}, {"timeout": float("nan")}, {"timeout": float("inf")},
    {"timeout": "x"}, {"timeout": True}, {"timeout": 10**400}, {"timeout": 1e300},
    {"connect_timeout": float("nan")}, {"connect_timeout": -5},
    {"retries": 10**9}, {"retries": -1}, {"retries": 1.5}, {"retries": True}, {"retries": "3"},
    {"backoff": float("nan")}, {"backoff": -1}, {"backoff": 1e308},
    {"concurrency": 0}, {"concurrency": 10**6}, {"concurrency": 2.0}, {"concurrency": False},
    {"batch_size": 0}, {"batch_size": 10**9}, {"batch_size": None}, {"batch_size": "8"},
    {"max_tokens": 0}, {"max_tokens": 2**40}, {"pooling": 5}, {"pooling": ["mean"]},
    {"pooling": "avg"}, {"kind": "tei"}, {"kind": ["openai"]}, {"kind": None},
    {"model": ""}, {"model": 5}, {"model": "m" * 5000}, {"name": 5}, {"name": ""},
    {"api_key": 5}, {"api_key": ""}, {"api_key": b"k"}, {"allow_insecure": "yes"},
]  # fmt: skip


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=[str(o)[:40] for o in BAD_OPTIONS])
def test_a_bad_option_is_a_one_line_error_before_any_request(options: dict[str, Any]) -> None:
    port = free_port()  # nothing listens: an option that got through would be a RemoteError
    with pytest.raises(InvalidInputError) as caught:
        RemoteModel(f"http://127.0.0.1:{port}", **{"retries": 0, **options})
    one_line(caught.value)
