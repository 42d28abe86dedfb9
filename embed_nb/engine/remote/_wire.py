"""The socket-level parts of a request: a deadline watchdog and a capped, chunked body read.

Kept apart from the retry loop in :mod:`._http` so each stays small: these know nothing of
JSON, retries or keys.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import socket
import threading
import time

__all__ = ["Expired", "TooLarge", "Watchdog", "discard", "read_capped", "size_text"]

#: Bytes read at a time, so a cap is enforced while the answer arrives.
CHUNK = 64 * 1024


class Watchdog:
    """Shuts a connection's socket when the deadline passes, waking any blocked read."""

    def __init__(self, sock: socket.socket | None, seconds: float) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self.fired = False
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done or self._sock is None:
                return
            self.fired = True
            # The plain socket's shutdown, even for TLS: SSLSocket's would drop its state
            # under the reading thread's feet.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def stop(self) -> bool:
        """Disarm; True when it had already fired."""
        with self._lock:
            self._done = True
        self._timer.cancel()
        return self.fired


class Expired(Exception):
    """The request's deadline passed."""


class TooLarge(Exception):
    """The answer is larger than the request can need."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


def discard(conn: http.client.HTTPConnection, response: http.client.HTTPResponse | None) -> None:
    """Close a connection that must not be reused, and the response that holds its socket."""
    conn.close()
    if response is not None:
        response.close()


def read_capped(
    sock: socket.socket,
    response: http.client.HTTPResponse,
    limit: int,
    deadline: float,
) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, in chunks; the flag says it was all read."""
    if response.length is not None and response.length > limit:
        return b"", False  # refused before a byte of it is read
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if response.isclosed():  # http.client closes it once the whole body was read
            return b"".join(chunks), True
        with contextlib.suppress(OSError):
            sock.settimeout(remaining)
        chunk = response.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return b"".join(chunks)[:limit], False


def size_text(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{math.ceil(n / 1024)} KiB"
