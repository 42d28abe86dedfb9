"""Helpers for the remote tests: real llama-server processes, and a labelled fake server.

The real binaries come from ``scripts/build_llama_server.py`` (cached per llama-cpp-python
version in ``cache_dir()/llama.cpp/<version>/``; ``$EMBED_NB_LLAMA_BIN_DIR`` overrides the
place). Without them the tests that need a server are skipped with the build command as the
reason, except in CI (``CI`` set), where a missing binary is a failure.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_bins import bin_dir
from ports import free_port

BUILD_COMMAND = "python scripts/build_llama_server.py"
HEALTH_TIMEOUT_S = 120.0


def require_binary(name: str) -> Path:
    """The binary's path; skip (fail in CI) when it has not been built."""
    path = bin_dir() / name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = (
        f"{name} not built in {path.parent}; run `{BUILD_COMMAND}` (6 to 15 min on 2 cores, once)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


class LlamaServer:
    """One llama-server process on 127.0.0.1 with a free port; stop() always cleans up."""

    def __init__(self, binary: Path, model: Path, args: list[str], log: Path) -> None:
        self.binary, self.model, self.args, self.log = binary, model, args, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.binary), "-m", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "--no-webui", *self.args,
        ]  # fmt: skip

    def start(self) -> LlamaServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama-server not healthy after {HEALTH_TIMEOUT_S} s:\n{self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def kill(self) -> None:
        """SIGKILL: the way a crash looks to a client."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text("utf-8", "replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def post(self, path: str, payload: Any) -> tuple[int, Any]:
        """A raw JSON request, for comparing with what the client makes of it."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


# --------------------------------------------------------------------------------------------
# A fake server (stdlib http.server), labelled as such: only for faults a real one won't make.


class FakeServer:
    """NOT llama-server: a stdlib HTTP server on 127.0.0.1 whose answers a test scripts.

    ``handler(method, path, body) -> (status, bytes)`` answers each request; every request is
    recorded in :attr:`requests` (with its headers) for the test to inspect.
    """

    def __init__(
        self, handler: Callable[[str, str, bytes], tuple[int, bytes]], drop_idle: bool = False
    ) -> None:
        self.handler = handler
        self.drop_idle = drop_idle  # close each connection after one answer, unannounced
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this each answer waits for the
            # client's delayed ACK (40 ms), which made the fake-server tests slow.
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, data = fake.handler(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if fake.drop_idle:
                    self.close_connection = True

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll, so that stopping a fake takes milliseconds, not half a second.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def llama_like(
    embed: Callable[[dict[str, Any]], tuple[int, bytes]] | None = None,
) -> Callable[[str, str, bytes], tuple[int, bytes]]:
    """A fake handler that answers discovery like a pooled llama-server (the fingerprint probe
    included), and embeddings via ``embed(payload)`` (default: the 4-dim vector of halves for
    every input)."""
    from embed_nb.engine.remote import PROBE_TEXT

    def default_embed(payload: dict[str, Any]) -> tuple[int, bytes]:
        import base64
        import struct

        vec = base64.b64encode(struct.pack("<4f", 0.5, 0.5, 0.5, 0.5)).decode()
        inputs = payload["input"]
        data = [{"index": i, "embedding": vec, "object": "embedding"} for i in range(len(inputs))]
        usage = {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}
        return 200, json.dumps({"data": data, "usage": usage, "object": "list"}).encode()

    answer = embed or default_embed

    def handler(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/props":
            return 200, json.dumps({"total_slots": 2, "model_path": "fake.gguf"}).encode()
        if path == "/v1/models":
            meta = {"n_embd": 4, "n_ctx": 64, "n_vocab": 10}
            return 200, json.dumps({"data": [{"id": "fake", "meta": meta}]}).encode()
        if path == "/v1/rerank":
            return 501, json.dumps({"error": {"message": "no rerank", "code": 501}}).encode()
        payload = json.loads(body or b"{}")
        if path == "/v1/embeddings" and payload.get("input") == []:
            return 400, json.dumps({"error": {"message": '"input" must not be empty'}}).encode()
        if path == "/v1/embeddings" and payload.get("input") == [PROBE_TEXT]:
            return default_embed(payload)
        return answer(payload)

    return handler
