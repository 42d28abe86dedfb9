"""Faults of a REAL llama-server: killed mid-request, restarted between calls, slower than the
timeout. Each ends in a clear RemoteError or a successful retry, and never in a partial result.
(Garbage JSON, which a real server does not send, is in test_remote_client.py with a fake.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_servers import LlamaServer

from embed_nb import RemoteError
from embed_nb.engine.remote import RemoteModel

Factory = Callable[..., LlamaServer]
# Enough work that one call on the tiny model takes a few seconds with one slot and thread.
SLOW_ARGS = ("-np", "1", "-ub", "128", "-b", "128")
TEXTS = [f"the quick brown fox number {i} jumps over the lazy dog " * 5 for i in range(3000)]


def slow_server(factory: Factory, model: Path) -> LlamaServer:
    return factory(model, threads=1, extra=SLOW_ARGS, shared=False)


def call_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_restarted_between_calls_is_retried_on_a_fresh_connection(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path, shared=False)
    with RemoteModel(server.url, batch_size=2) as remote:
        before = np.asarray(remote.embed(TEXTS[:8]))  # leaves keep-alive connections open
        server.restart()  # same port; those connections are now dead
        after = np.asarray(remote.embed(TEXTS[:8]))
    # Concurrent requests may share a decode differently each time: rounding only.
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-4)


def test_killed_mid_request_is_a_clear_error(bert_mean_path: Path, server_factory: Factory) -> None:
    server = slow_server(server_factory, bert_mean_path)
    with RemoteModel(server.url, retries=2, backoff=0.05) as remote:
        thread, outcome = call_in_thread(lambda: remote.embed(TEXTS))
        time.sleep(0.5)
        assert thread.is_alive(), "the call finished before the kill; make it longer"
        server.kill()
        thread.join(30)
    assert "result" not in outcome
    error = outcome["error"]
    assert isinstance(error, RemoteError)
    assert "could not reach the server" in str(error) and "3 attempts" in str(error)


def test_killed_mid_request_and_restarted_is_retried_whole(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = slow_server(server_factory, bert_mean_path)
    with RemoteModel(server.url, retries=8, backoff=0.1) as remote:
        expected = np.asarray(remote.embed(TEXTS[:200]))
        thread, outcome = call_in_thread(lambda: remote.embed(TEXTS[:200] * 15))
        time.sleep(0.5)
        assert thread.is_alive(), "the call finished before the kill; make it longer"
        server.kill()
        server.start()  # same port
        thread.join(120)
    assert "error" not in outcome, outcome.get("error")
    result = np.asarray(outcome["result"])
    assert result.shape == (3000, expected.shape[1])
    np.testing.assert_allclose(result, np.tile(expected, (15, 1)), rtol=0, atol=1e-4)


def test_slower_than_the_timeout_is_a_clear_error(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = slow_server(server_factory, bert_mean_path)
    with RemoteModel(server.url, timeout=0.2, concurrency=1, batch_size=3000) as remote:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"no answer within 0.2 s"):
            remote.embed(TEXTS)
        assert time.monotonic() - started < 5
