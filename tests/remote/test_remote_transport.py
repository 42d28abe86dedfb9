"""RemoteModel over an INJECTED transport (``transport=``), beside the real-server tests.

A :class:`Transport` subclass overrides :meth:`Transport.exchange`, one attempt, to put faults
under the real retry loop and deadline, or to answer from memory with no socket at all (the
way httpx takes a mock transport). These are fakes, labelled as such; real faults against a
real llama-server are in ``test_remote_faults.py``.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import numpy as np
import pytest
from llama_servers import FakeServer, llama_like

from embed_nb import InvalidInputError, RemoteError
from embed_nb.engine.normalize import normalize
from embed_nb.engine.remote import RemoteModel, Reply, Transport


def _vectors(payload: dict[str, Any]) -> bytes:
    """Pooled vectors [len(text), 1, 0, 0], normalised as asked (as llama-server does)."""
    raw = np.array([[len(t), 1.0, 0.0, 0.0] for t in payload["input"]], dtype=np.float32)
    rows = normalize(raw, payload.get("embd_normalize", 2))
    data = [
        {"index": i, "embedding": base64.b64encode(struct.pack("<4f", *row)).decode()}
        for i, row in enumerate(rows.tolist())
    ]
    return json.dumps({"data": data, "usage": {"prompt_tokens": len(data)}}).encode()


class InMemory(Transport):
    """A fake llama-server in memory: no socket is opened. ``short`` drops one vector."""

    short = False

    def exchange(
        self, method: str, path: str, body: bytes | None, deadline: float, limit: int
    ) -> Reply:
        payload = json.loads(body) if body else None
        if path == "/props":
            return Reply(200, json.dumps({"total_slots": 2}).encode(), "")
        if path == "/v1/models":
            meta = {"n_ctx": 64, "n_embd": 4}
            return Reply(200, json.dumps({"data": [{"id": "mem", "meta": meta}]}).encode(), "")
        if path == "/v1/rerank":
            return Reply(501, b'{"error": {"message": "rerank is off"}}', "")
        assert path == "/v1/embeddings" and payload is not None
        if not payload["input"]:
            return Reply(400, b'{"error": {"message": "input is empty"}}', "")
        answer = _vectors(payload)
        if self.short and len(payload["input"]) > 1:
            parsed = json.loads(answer)
            parsed["data"] = parsed["data"][:-1]
            answer = json.dumps(parsed).encode()
        return Reply(200, answer, "")


class ShortAnswers(InMemory):
    short = True


def test_an_in_memory_transport_serves_a_whole_model() -> None:
    with RemoteModel("http://127.0.0.1:9", transport=InMemory) as model:
        assert model.name == "mem" and model.n_embd == 4 and model.pooling == "pooled"
        result = np.asarray(model.embed(["a", "abc"], normalize=-1))
    assert result[:, 0].tolist() == [1.0, 3.0]


def test_a_short_answer_from_an_injected_transport_fails_the_whole_call() -> None:
    with (
        RemoteModel("http://127.0.0.1:9", transport=ShortAnswers, concurrency=1) as model,
        pytest.raises(RemoteError, match="1 results for 2 inputs"),
    ):
        model.embed(["a", "b"])


class Resetting(Transport):
    """Real requests to a fake server, but the first ``fail`` embedding attempts are reset
    before they are sent (as a dropped connection would be)."""

    fail = 2
    attempts = 0

    def exchange(
        self, method: str, path: str, body: bytes | None, deadline: float, limit: int
    ) -> Reply:
        if path == "/v1/embeddings" and body and b'"abc"' in body:
            type(self).attempts += 1
            if type(self).attempts <= self.fail:
                raise ConnectionResetError("injected reset")
        return super().exchange(method, path, body, deadline, limit)


def test_injected_resets_are_retried_by_the_real_retry_loop(fake_server: Any) -> None:
    server: FakeServer = fake_server(llama_like())

    class TwoResets(Resetting):
        fail, attempts = 2, 0

    with RemoteModel(server.url, backoff=0.01, transport=TwoResets) as model:
        assert np.asarray(model.embed("abc", normalize=-1)).tolist() == [0.5] * 4
    assert TwoResets.attempts == 3


def test_injected_resets_forever_give_up_after_the_bounded_retries(fake_server: Any) -> None:
    server: FakeServer = fake_server(llama_like())

    class Forever(Resetting):
        fail, attempts = 10**6, 0

    with (
        RemoteModel(server.url, retries=2, backoff=0.01, transport=Forever) as model,
        pytest.raises(RemoteError, match=r"failed after 3 attempts.*injected reset"),
    ):
        model.embed("abc")
    assert Forever.attempts == 3


def test_the_deadline_holds_over_an_injected_transport() -> None:
    class Slow(InMemory):
        def exchange(
            self, method: str, path: str, body: bytes | None, deadline: float, limit: int
        ) -> Reply:
            if body and b'"slow"' in body:
                time.sleep(0.2)
                raise ConnectionResetError("injected reset after a wait")
            return super().exchange(method, path, body, deadline, limit)

    start = time.monotonic()
    with (
        RemoteModel("http://127.0.0.1:9", timeout=0.5, backoff=0.05, transport=Slow) as model,
        pytest.raises(RemoteError, match=r"within the 0\.5 s timeout"),
    ):
        model.embed("slow")
    assert time.monotonic() - start < 2


def test_a_transport_that_is_not_callable_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="transport must be a callable"):
        RemoteModel("http://127.0.0.1:9", transport="httpx")  # type: ignore[arg-type]
