"""A HOSTILE FAKE server (raw sockets, NOT llama-server), for misbehaviour a real server can't be
made to show: bytes dribbled out one at a time, endless or huge bodies, redirects.

It answers discovery like a pooled llama-server with 4-dim vectors (through
:func:`llama_servers.llama_like`), and hands every other request to a test's ``misbehave``
function, which writes raw bytes to the socket. It listens on 127.0.0.1 only; :meth:`close`
stops it, and every loop in it is bounded and checks :attr:`stopping`.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from llama_servers import llama_like

from embed_nb.engine.remote import PROBE_TEXT

Write = Callable[[bytes], None]
Misbehave = Callable[["HostileServer", str, str, bytes, Write], None]


def head(status: int, length: int | None, extra: str = "") -> bytes:
    """A status line and headers; no Content-Length when ``length`` is None (EOF ends it)."""
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class HostileServer:
    """A FAKE: discovery answered like llama-server, the rest by ``misbehave``."""

    def __init__(self, misbehave: Misbehave) -> None:
        self.misbehave = misbehave
        self.stopping = threading.Event()
        self.sent = 0  # bytes written by misbehave, for tests that check the client hung up
        self._normal = llama_like()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self.stopping.set()
        self._accepter.join(5)
        self._sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            method, path, body = _read_request(conn)
            if self._is_discovery(path, body):
                status, data = self._normal(method, path, body)
                conn.sendall(head(status, len(data)) + data)
                return

            def write(data: bytes) -> None:
                conn.sendall(data)
                self.sent += len(data)

            self.misbehave(self, method, path, body, write)
        except OSError:
            pass  # the client hung up: what several tests want
        finally:
            conn.close()

    @staticmethod
    def _is_discovery(path: str, body: bytes) -> bool:
        if path in ("/props", "/v1/models", "/v1/rerank"):
            return True
        payload: Any = json.loads(body or b"{}")
        return path == "/v1/embeddings" and payload.get("input") in ([], [PROBE_TEXT])


def _read_request(conn: socket.socket) -> tuple[str, str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed")
        body += chunk
    return method, path, body
