"""HTTP for the remote model: JSON over keep-alive connections, with a deadline per request,
a cap on every answer's size, bounded retries, and error text that never shows the key.

Deadline: ``timeout`` bounds one request from the first connection attempt to the last byte
of the answer, retries and their backoff included. A watchdog shuts the socket when it
passes, so a server that sends a byte now and then cannot stretch it (a per-read socket
timeout would restart at every byte). A call of many requests may take longer in all.

Size: the caller says how many bytes the answer can need (:mod:`._answers` works it
out from the inputs and the dimension); a larger answer is refused while it arrives, read in
chunks, so a hostile server cannot fill the kernel's memory.

Injection: :class:`~embed_nb.engine.remote.RemoteModel` takes ``transport=``, any
:data:`TransportFactory` (a :class:`Transport` subclass is one). :meth:`Transport.exchange`,
one attempt on one connection, is the seam a test overrides to put faults under the retry
loop and the deadline, the way httpx lets a client take a mock transport.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ...errors import RemoteError
from ._endpoint import Endpoint
from ._secret import Scrubber, Secret
from ._wire import Expired, TooLarge, Watchdog, discard, read_capped, size_text

__all__ = [
    "CONNECTION_ERRORS",
    "RETRY_STATUSES",
    "HTTPTransport",
    "Reply",
    "RetryPolicy",
    "Transport",
    "TransportFactory",
    "server_message",
]

#: Retried: the server may be starting up (llama-server answers 503 while it loads a model).
RETRY_STATUSES = frozenset({503})
# Errors that mean "no answer came": safe to retry, since embedding requests are idempotent.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, BrokenPipe
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    http.client.BadStatusLine,
    socket.gaierror,
)
USER_AGENT = "embed_nb"
#: Most of an error answer that is read (only its first few hundred characters are shown).
ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and a little jitter.

    Attempt ``k`` (from 1) waits ``backoff * 2**(k-1)`` seconds (times 1..1.25) before
    trying again, so the default 4 retries from 0.25 s span about 4 s: enough for a server
    restart, short enough that a dead server is reported quickly.
    """

    retries: int = 4
    backoff: float = 0.25

    def delays(self) -> Iterator[float]:
        for k in range(self.retries):
            yield min(self.backoff * (2**k) * (1 + random.random() / 4), 3600.0)


@dataclass(frozen=True)
class Reply:
    """A server's answer: status, body (capped) and the redirect target, if any."""

    status: int
    body: bytes
    location: str
    complete: bool = True  # False: an error body cut at ERROR_BODY_LIMIT


class Transport:
    """JSON over keep-alive HTTP connections, one per thread, with retries and clear errors."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_key: Secret | None,
        scrubber: Scrubber,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self.scrubber = scrubber
        self._api_key = api_key
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()
        self._ssl = ssl.create_default_context() if endpoint.scheme == "https" else None

    # --- connections ----------------------------------------------------------------------

    def _connection(self, deadline: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, connected; the flag says it was already open (reused)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            ep = self.endpoint
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(ep.host, ep.port, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(ep.host, ep.port)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        if conn.sock is not None:
            return conn, True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Expired
        conn.timeout = min(self.connect_timeout, remaining)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            if conn.timeout < self.connect_timeout:
                raise Expired from None
            raise ConnectionError(f"connect timed out after {self.connect_timeout:g} s") from None
        # http.client sends the headers and the body in two writes; with Nagle's algorithm the
        # second waits for the server's delayed ACK (40 ms on Linux) on every request.
        assert conn.sock is not None
        with contextlib.suppress(OSError):
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # --- requests ---------------------------------------------------------------------------

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        return headers

    def exchange(
        self, method: str, path: str, body: bytes | None, deadline: float, limit: int
    ) -> Reply:
        """One attempt at a request: the seam a test overrides to inject faults.

        Raising one of :data:`CONNECTION_ERRORS` here makes :meth:`request` retry it, a
        :class:`Reply` is taken as the server's answer; the deadline still holds.
        """
        conn, reused = self._connection(deadline)
        try:
            return self._round_trip(conn, method, path, body, deadline, limit)
        except CONNECTION_ERRORS:
            if not reused:
                raise
        # The server closed an idle keep-alive connection (llama-server does after 5 s):
        # that is no fault, so try once more at once on a new connection, without backoff.
        conn, _ = self._connection(deadline)
        return self._round_trip(conn, method, path, body, deadline, limit)

    def _round_trip(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        deadline: float,
        limit: int,
    ) -> Reply:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Expired
        sock = conn.sock  # kept: http.client lets go of it when the server says it will close
        assert sock is not None
        watchdog = Watchdog(sock, remaining)
        response: http.client.HTTPResponse | None = None
        try:
            sock.settimeout(remaining)
            conn.request(method, self.endpoint.prefix + path, body, self._headers(body is not None))
            response = conn.getresponse()
            ok = 200 <= response.status < 300
            data, whole = read_capped(sock, response, limit if ok else ERROR_BODY_LIMIT, deadline)
            if ok and not whole:
                raise TooLarge(limit)
            location = response.getheader("Location") or ""
        except BaseException as error:
            # A half-used connection must not be reused; the response holds the socket open
            # (so a hostile sender would go on filling it) until it is closed too.
            discard(conn, response)
            fired = watchdog.stop()
            if fired or isinstance(error, TimeoutError):
                raise Expired from None
            raise
        if watchdog.stop():  # it fired after the last read: the body may be cut short
            discard(conn, response)
            raise Expired
        if response.will_close or not whole:
            discard(conn, response)
        return Reply(response.status, data, location, whole)

    def request(self, method: str, path: str, payload: Any = None, *, limit: int) -> Reply:
        """Send one request, retrying connection errors and 503 until the deadline.

        Args:
            limit: the most bytes a successful answer may have.

        Raises:
            RemoteError: no answer within the timeout, the server could not be reached after
                every retry, or the answer is larger than ``limit``.
        """
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        what = f"{method} {self.endpoint.url}{path}"
        deadline = time.monotonic() + self.timeout
        delays = self.retry.delays()
        attempts = 0
        while True:
            attempts += 1
            try:
                reply = self.exchange(method, path, body, deadline, limit)
            except Expired:
                raise RemoteError(
                    f"{what} got no answer within {self.timeout:g} s (the whole request, "
                    "retries included); the server is busy, stuck or too slow. Raise timeout= "
                    "or send fewer texts per call"
                ) from None
            except TooLarge as error:
                raise RemoteError(
                    f"the answer to {what} is larger than the {size_text(error.limit)} such a "
                    "request can need; the server is misbehaving (or it is not a llama-server "
                    "or OpenAI-compatible API)"
                ) from None
            except CONNECTION_ERRORS as error:
                delay = next(delays, None)
                if delay is None or time.monotonic() + delay >= deadline:
                    within = "" if delay is None else f" within the {self.timeout:g} s timeout"
                    raise RemoteError(
                        self.scrubber.clean(
                            f"could not reach the server: {what} failed after {attempts} "
                            f"attempts{within} ({_describe(error)}). Is it running, and is "
                            "the URL right?",
                            500,
                        )
                    ) from None
                time.sleep(delay)
                continue
            except http.client.HTTPException as error:  # not HTTP at all: not retried
                raise RemoteError(
                    self.scrubber.clean(
                        f"the server's answer to {what} is not valid HTTP ({_describe(error)})",
                        500,
                    )
                ) from None
            except OSError as error:  # TLS failures, unreachable networks: not retried
                raise RemoteError(
                    self.scrubber.clean(
                        f"could not talk to the server: {what} failed ({_describe(error)}). "
                        "Is the URL right?",
                        500,
                    )
                ) from None
            if reply.status in RETRY_STATUSES:
                delay = next(delays, None)
                if delay is not None and time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    continue
            return reply

    def call(self, method: str, path: str, payload: Any = None, *, limit: int) -> Any:
        """Like :meth:`request`, and parse the JSON answer; anything but a 200 raises."""
        reply = self.request(method, path, payload, limit=limit)
        self.check_status(reply, f"{method} {path}")
        return self.parse_json(reply.body, f"{method} {path}")

    def check_status(self, reply: Reply, what: str) -> None:
        """Raise RemoteError for any status but 200 (redirects are not followed)."""
        status = reply.status
        if status == 200:
            return
        if 300 <= status < 400:
            where = f" to {self.scrubber.clean(reply.location, 120)}" if reply.location else ""
            message = (
                f"the server answered {status} (a redirect{where}) to {what}; redirects are "
                "not followed (a key must not travel on). Give the final URL"
            )
        elif status >= 400:
            # A cut error body may end inside an echoed key: drop its tail before showing it.
            body = reply.body if reply.complete else reply.body[:-4096]
            message = f"the server answered {status} to {what}: {self.server_message(body)}"
        else:
            message = f"the server answered {what} with status {status}, not 200"
        raise RemoteError(self.scrubber.clean(message, 600), status=status)

    def parse_json(self, data: bytes, what: str) -> Any:
        """The JSON in ``data``; NaN/Infinity literals and deep nesting are refused."""
        try:
            return json.loads(data, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RemoteError(
                self.scrubber.clean(
                    f"the server answered {what} with something that is not JSON: "
                    f"{self.scrubber.clean(data.decode('utf-8', 'replace'), 120)!r}",
                    400,
                )
            ) from None

    def server_message(self, data: bytes) -> str:
        """The server's own words from an error body, scrubbed and on one line."""
        return self.scrubber.clean(server_message(data), 300)


class HTTPTransport(Protocol):
    """What :class:`~embed_nb.engine.remote.RemoteModel` needs of a transport."""

    endpoint: Endpoint

    def request(self, method: str, path: str, payload: Any = None, *, limit: int) -> Reply: ...

    def check_status(self, reply: Reply, what: str) -> None: ...

    def parse_json(self, data: bytes, what: str) -> Any: ...

    def server_message(self, data: bytes) -> str: ...

    def close(self) -> None: ...


class TransportFactory(Protocol):
    """Builds the transport for one model; :class:`Transport` (or a subclass) is one."""

    def __call__(
        self,
        endpoint: Endpoint,
        *,
        api_key: Secret | None,
        scrubber: Scrubber,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
    ) -> HTTPTransport: ...


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def server_message(data: bytes) -> str:
    """The server's own words from an error body (llama-server, OpenAI, TEI or plain text).

    Not scrubbed: :meth:`Transport.server_message` is the one for text that is shown.
    """
    try:
        body = json.loads(data, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return data.decode("utf-8", "replace").strip() or "(no message)"
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail", "error"):
                if isinstance(error.get(key), str):
                    return str(error[key])
        if isinstance(error, str):
            return error
    return data.decode("utf-8", "replace").strip()
