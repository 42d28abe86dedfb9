"""HTTP for the remote model: JSON over keep-alive connections, with a deadline per request,
a cap on every answer's size, bounded retries, and error text that never shows the key.

Deadline: ``timeout`` bounds one request from the first connection attempt to the last byte
of the answer, retries and their backoff included. A watchdog shuts the socket when it
passes, so a server that sends a byte now and then cannot stretch it (a per-read socket
timeout would restart at every byte). A call of many requests may take longer in all.

Size: the caller says how many bytes the answer can need (:mod:`._remote_answers` works it
out from the inputs and the dimension); a larger answer is refused while it arrives, read in
chunks, so a hostile server cannot fill the kernel's memory.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInputError, RemoteError
from ._remote_secret import Scrubber, clean_text

__all__ = ["Endpoint", "Reply", "RetryPolicy", "Transport", "server_message"]

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
_CHUNK = 64 * 1024
# Hostnames as DNS spells them; anything else (spaces, control characters, '%') is refused.
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")
# What a path may hold unescaped in a request line (RFC 3986 pchar, '/' and '%').
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


def shown_url(url: str) -> str:
    """A URL fit for an error message: no userinfo, query or fragment (they may hold a key)."""
    text = re.split(r"[?#]", url.strip(), maxsplit=1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        # Everything up to the last '@' may be userinfo, even where a '/' in a key has moved
        # the parser's idea of where the host ends.
        text = f"{scheme}://{rest.rpartition('@')[2]}"
    return repr(clean_text(text, 100))


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
class Endpoint:
    """Where the server is: scheme, host, port and the path prefix every route goes under."""

    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: object) -> Endpoint:
        """Check and split a server URL.

        Raises:
            InvalidInputError: not an http(s) URL with a valid host and port, or it carries
                credentials, a query or a fragment (the message never repeats those parts).
        """
        if not isinstance(url, str):
            raise InvalidInputError(
                f"the server URL must be a str like http://127.0.0.1:8080, not {type(url).__name__}"
            )
        shown = shown_url(url)
        if re.search(r"[\x00-\x20\x7f]", url.strip()):
            # urlsplit would drop tabs and line breaks and read another host than was written.
            raise InvalidInputError(
                f"{shown} holds spaces or control characters; write it like http://127.0.0.1:8080"
            )
        if "@" in url:
            raise InvalidInputError(
                "put the API key in api_key= (or EMBED_NB_API_KEY), not in the URL"
            )
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
            port = parts.port
        except ValueError:
            raise InvalidInputError(
                f"{shown} is not a valid URL (host or port); write it like http://127.0.0.1:8080"
            ) from None
        if parts.scheme not in ("http", "https") or not host:
            raise InvalidInputError(
                f"{shown} is not an http(s) URL; write it like http://127.0.0.1:8080"
            )
        if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
            raise InvalidInputError(
                f"the server URL must not have a query or fragment (a key belongs in api_key=): "
                f"{shown}"
            )
        if not _valid_host(host):
            raise InvalidInputError(f"{shown} has an invalid host name")
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        if not 1 <= port <= 65535:
            raise InvalidInputError(f"{shown} has an invalid port; use 1 to 65535")
        path = parts.path.rstrip("/")
        if not _PATH.fullmatch(path) or len(path) > 1024:
            raise InvalidInputError(
                f"{shown} has characters a request path cannot carry; percent-encode them"
            )
        return cls(parts.scheme, host.lower(), port, path)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal (urlsplit took it from brackets)
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME.fullmatch(host)) and ".." not in host


@dataclass(frozen=True)
class Reply:
    """A server's answer: status, body (capped) and the redirect target, if any."""

    status: int
    body: bytes
    location: str
    complete: bool = True  # False: an error body cut at ERROR_BODY_LIMIT


class _Watchdog:
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


class _Expired(Exception):
    """The request's deadline passed."""


class _TooLarge(Exception):
    """The answer is larger than the request can need."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


class Transport:
    """JSON over keep-alive HTTP connections, one per thread, with retries and clear errors."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_key: Any,
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
            raise _Expired
        conn.timeout = min(self.connect_timeout, remaining)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            if conn.timeout < self.connect_timeout:
                raise _Expired from None
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

    def _once(
        self, method: str, path: str, body: bytes | None, deadline: float, limit: int
    ) -> Reply:
        conn, reused = self._connection(deadline)
        try:
            return self._exchange(conn, method, path, body, deadline, limit)
        except CONNECTION_ERRORS:
            if not reused:
                raise
        # The server closed an idle keep-alive connection (llama-server does after 5 s):
        # that is no fault, so try once more at once on a new connection, without backoff.
        conn, _ = self._connection(deadline)
        return self._exchange(conn, method, path, body, deadline, limit)

    def _exchange(
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
            raise _Expired
        sock = conn.sock  # kept: http.client lets go of it when the server says it will close
        assert sock is not None
        watchdog = _Watchdog(sock, remaining)
        response: http.client.HTTPResponse | None = None
        try:
            sock.settimeout(remaining)
            conn.request(method, self.endpoint.prefix + path, body, self._headers(body is not None))
            response = conn.getresponse()
            ok = 200 <= response.status < 300
            data, whole = _read_capped(sock, response, limit if ok else ERROR_BODY_LIMIT, deadline)
            if ok and not whole:
                raise _TooLarge(limit)
            location = response.getheader("Location") or ""
        except BaseException as error:
            # A half-used connection must not be reused; the response holds the socket open
            # (so a hostile sender would go on filling it) until it is closed too.
            _close(conn, response)
            fired = watchdog.stop()
            if fired or isinstance(error, TimeoutError):
                raise _Expired from None
            raise
        if watchdog.stop():  # it fired after the last read: the body may be cut short
            _close(conn, response)
            raise _Expired
        if response.will_close or not whole:
            _close(conn, response)
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
                reply = self._once(method, path, body, deadline, limit)
            except _Expired:
                raise RemoteError(
                    f"{what} got no answer within {self.timeout:g} s (the whole request, "
                    "retries included); the server is busy, stuck or too slow. Raise timeout= "
                    "or send fewer texts per call"
                ) from None
            except _TooLarge as error:
                raise RemoteError(
                    f"the answer to {what} is larger than the {_size(error.limit)} such a "
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


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _close(conn: http.client.HTTPConnection, response: http.client.HTTPResponse | None) -> None:
    conn.close()
    if response is not None:
        response.close()


def _read_capped(
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
        chunk = response.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return b"".join(chunks)[:limit], False


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{math.ceil(n / 1024)} KiB"


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
