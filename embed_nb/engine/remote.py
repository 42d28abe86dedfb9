"""The model interface over HTTP: a llama-server, or any server that speaks OpenAI's embeddings.

:class:`RemoteModel` has the same methods and attributes as :class:`~embed_nb.engine.LocalModel`,
so results, caches, magics and widgets do not care where the vectors come from.

With ``kind="llama-server"`` it uses llama.cpp's own endpoints:

- pooled models: ``POST /v1/embeddings`` with ``encoding_format: base64`` and ``embd_normalize``
  (float32 bytes instead of JSON numbers: smaller, faster, and bit-exact);
- pooling ``none``: ``POST /embeddings`` (one vector per token; ``/v1`` refuses it);
- rerankers: ``POST /v1/rerank``; tokens: ``POST /tokenize``;
- ``GET /props`` and ``GET /v1/models`` for :attr:`RemoteModel.info`.

With ``kind="openai"`` it speaks only ``POST {base}/embeddings`` in OpenAI's shape.

A call is split into several requests sent at once (the server decodes them in parallel slots).
Connection errors and 503 are retried with exponential backoff a bounded number of times; any
other 4xx/5xx becomes a :class:`~embed_nb.errors.RemoteError` carrying the server's own message.
A result is returned only when every request of the call succeeded: nothing partial escapes.
The API key is kept in a :class:`Secret` and never appears in a repr, an error or a log.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import math
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from ..errors import InvalidInputError, ModelClosedError, NotARerankerError, RemoteError
from ..results import Embeddings, RerankResult, rank_hits
from .info import ModelInfo
from .inputs import as_text_list, rerank_inputs, token_id_lists, utf8
from .normalize import check_normalize
from .normalize import normalize as normalize_vectors

__all__ = ["KINDS", "RemoteModel", "Secret"]

KINDS = ("llama-server", "openai")
#: Environment variables read for the API key, in order, when no ``api_key`` is passed.
API_KEY_ENV = {
    "llama-server": ("EMBED_NB_API_KEY", "LLAMA_API_KEY"),
    "openai": ("EMBED_NB_API_KEY", "OPENAI_API_KEY"),
}
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
POOLED = "pooled"  # the server pools (mean, cls or last): which one it does not say
USER_AGENT = "embed_nb"

T = TypeVar("T")
ProgressFn = Callable[[int, int], None]


class Secret:
    """A string that never shows itself: its repr and str are ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that needs it: the Authorization header."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by ``***``."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def resolve_api_key(api_key: str | Secret | None, kind: str) -> Secret | None:
    """The key from the argument, else from the first environment variable that is set."""
    if isinstance(api_key, Secret):
        return api_key
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise InvalidInputError("api_key must be a non-empty str")
        return Secret(api_key.strip())
    for var in API_KEY_ENV[kind]:
        value = os.environ.get(var, "").strip()
        if value:
            return Secret(value)
    return None


# --------------------------------------------------------------------------------------------
# HTTP transport


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
            yield self.backoff * (2**k) * (1 + random.random() / 4)


@dataclass(frozen=True)
class Endpoint:
    """Where the server is: scheme, host, port and the path prefix every route goes under."""

    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                f"{url!r} is not an http(s) URL; write it like http://127.0.0.1:8080"
            )
        if parts.username or parts.password:
            raise InvalidInputError(
                "put the API key in api_key= (or EMBED_NB_API_KEY), not in the URL"
            )
        if parts.query or parts.fragment:
            raise InvalidInputError(f"the server URL must not have a query or fragment: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidInputError(f"{url!r} has an invalid port") from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"


class Transport:
    """JSON over keep-alive HTTP connections, one per thread, with retries and clear errors."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_key: Secret | None,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self._api_key = api_key
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()
        self._ssl = ssl.create_default_context() if endpoint.scheme == "https" else None

    # --- connections ----------------------------------------------------------------------

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, connected; the flag says it was already open (reused)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            ep = self.endpoint
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(
                    ep.host, ep.port, timeout=self.connect_timeout, context=self._ssl
                )
            else:
                conn = http.client.HTTPConnection(ep.host, ep.port, timeout=self.connect_timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        if conn.sock is not None:
            return conn, True
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise ConnectionError(f"connect timed out after {self.connect_timeout:g} s") from None
        # connect_timeout bounds the connect; timeout bounds every wait for the answer.
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
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

    def _once(self, method: str, path: str, body: bytes | None) -> tuple[int, str, bytes]:
        conn, reused = self._connection()
        try:
            return self._exchange(conn, method, path, body)
        except CONNECTION_ERRORS:
            if not reused:
                raise
        # The server closed an idle keep-alive connection (llama-server does after 5 s):
        # that is no fault, so try once more at once on a new connection, without backoff.
        conn, _ = self._connection()
        return self._exchange(conn, method, path, body)

    def _exchange(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None
    ) -> tuple[int, str, bytes]:
        try:
            conn.request(method, self.endpoint.prefix + path, body, self._headers(body is not None))
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            conn.close()  # a half-used connection must not be reused
            raise
        if response.will_close:
            conn.close()
        return response.status, response.reason, data

    def request(self, method: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        """Send one request, retrying connection errors and 503; return (status, body).

        Raises:
            RemoteError: the server could not be reached after every retry, or gave no answer
                within the timeout.
        """
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        what = f"{method} {self.endpoint.url}{path}"
        delays = self.retry.delays()
        while True:
            try:
                status, _reason, data = self._once(method, path, body)
            except TimeoutError:
                # Not retried: a slow server would only get more work.
                raise RemoteError(
                    f"{what} got no answer within {self.timeout:g} s; the server is busy or "
                    "stuck. Raise timeout= or send fewer texts per call"
                ) from None
            except CONNECTION_ERRORS as error:
                delay = next(delays, None)
                if delay is None:
                    raise RemoteError(
                        f"could not reach the server: {what} failed after "
                        f"{self.retry.retries + 1} attempts ({self._describe(error)}). "
                        "Is it running, and is the URL right?"
                    ) from None
                time.sleep(delay)
                continue
            if status in RETRY_STATUSES:
                delay = next(delays, None)
                if delay is not None:
                    time.sleep(delay)
                    continue
            return status, data

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """Like :meth:`request`, and parse the JSON answer; any 4xx/5xx raises RemoteError."""
        status, data = self.request(method, path, payload)
        what = f"{method} {path}"
        if status >= 400:
            raise RemoteError(
                self.scrub(f"the server answered {status} to {what}: {server_message(data)}"),
                status=status,
            )
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RemoteError(
                self.scrub(
                    f"the server answered {what} with something that is not JSON: "
                    f"{_snippet(data)!r}"
                ),
                status=status,
            ) from None

    def scrub(self, text: str) -> str:
        """``text`` with the API key blanked out, should a server ever echo it."""
        return self._api_key.scrub(text) if self._api_key is not None else text

    def _describe(self, error: BaseException) -> str:
        return self.scrub(f"{type(error).__name__}: {error}".rstrip(": "))


def server_message(data: bytes) -> str:
    """The server's own words from an error body (llama-server, OpenAI, TEI or plain text)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return _snippet(data) or "(no message)"
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail", "error"):
                if isinstance(error.get(key), str):
                    return str(error[key])
        if isinstance(error, str):
            return error
    return _snippet(data)


def _snippet(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class _Batch:
    """One request's share of a call: the positions of its inputs in the call."""

    start: int
    stop: int


@dataclass(frozen=True)
class _Answer:
    """One request's result: vectors (or per-token arrays, or scores) and its token usage."""

    batch: _Batch
    values: list[np.ndarray]
    tokens: int


class RemoteModel:
    """A model served over HTTP, with the interface of :class:`~embed_nb.engine.LocalModel`.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8080``. For ``kind="openai"`` give the API
            base (``https://api.example.com/v1``); a URL with no path gets ``/v1``.
        kind: ``"llama-server"`` (all of llama.cpp's endpoints) or ``"openai"``
            (``/embeddings`` only).
        api_key: sent as ``Authorization: Bearer``. Default: ``$EMBED_NB_API_KEY``, then
            ``$LLAMA_API_KEY`` (llama-server) or ``$OPENAI_API_KEY`` (openai).
        model: the model name to send. Default: the only one ``/models`` lists.
        name: the display name. Default: the model name.
        timeout: seconds to wait for each answer (a call may send many requests).
        connect_timeout: seconds to wait for a connection.
        retries: how many times a connection error or 503 is retried (backoff doubles).
        backoff: the first retry's delay in seconds.
        concurrency: requests in flight at once. Default: the server's slots, at most 8.
        batch_size: most texts (or documents) per request.
        max_tokens: the longest input, for :attr:`max_tokens` (the server still decides).
        pooling: a label for the server's pooling (``"mean"``, ``"cls"``, ``"last"``), which
            no endpoint reports; default ``"pooled"``. ``none`` and ``rank`` are detected.
    """

    def __init__(
        self,
        url: str,
        *,
        kind: str = "llama-server",
        api_key: str | Secret | None = None,
        model: str | None = None,
        name: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.25,
        concurrency: int | None = None,
        batch_size: int = 32,
        max_tokens: int | None = None,
        pooling: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        for label, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidInputError(f"{label} must be a positive number of seconds")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInputError("retries must be a non-negative integer")
        if not isinstance(backoff, int | float) or backoff < 0:
            raise InvalidInputError("backoff must be a non-negative number of seconds")
        self.kind = kind
        endpoint = Endpoint.parse(url)
        if kind == "llama-server":
            # llama-server routes live at the root; accept a pasted .../v1 all the same.
            endpoint = Endpoint(
                endpoint.scheme, endpoint.host, endpoint.port, endpoint.prefix.removesuffix("/v1")
            )
        elif not endpoint.prefix:
            endpoint = Endpoint(endpoint.scheme, endpoint.host, endpoint.port, "/v1")
        self.url = endpoint.url
        self._transport = Transport(
            endpoint,
            api_key=resolve_api_key(api_key, kind),
            timeout=float(timeout),
            connect_timeout=float(connect_timeout),
            retry=RetryPolicy(retries, float(backoff)),
        )
        self.batch_size = _positive_int("batch_size", batch_size)
        self._closed = False
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        try:
            self._discover(model, name, pooling, max_tokens, concurrency)
        except BaseException:
            self._transport.close()
            raise

    # --- discovery ----------------------------------------------------------------------------

    def _discover(
        self,
        model: str | None,
        name: str | None,
        pooling: str | None,
        max_tokens: int | None,
        concurrency: int | None,
    ) -> None:
        """Ask the server what it serves: model, sizes, slots and pooling."""
        if self.kind == "llama-server":
            props = self._transport.call("GET", "/props")
            listed = self._list_models(required=True)
        else:
            props = {}
            listed = self._list_models(required=False)
        meta = listed[0].get("meta", {}) if len(listed) == 1 else {}
        if model is None:
            if len(listed) != 1:
                raise InvalidInputError(
                    f"{self.url} serves {len(listed) or 'no listed'} models; pass model=..."
                )
            model = str(listed[0].get("id"))
        self.model_id = model
        self.name = name or model
        slots = int(props.get("total_slots") or 1)
        self.concurrency = _positive_int("concurrency", concurrency or min(max(slots, 1), 8))
        self.pooling = self._probe_pooling(pooling)
        n_ctx = int(
            meta.get("n_ctx") or props.get("default_generation_settings", {}).get("n_ctx") or 0
        )
        self.max_tokens = _positive_int("max_tokens", max_tokens or n_ctx or 512)
        self.n_embd = 1 if self.pooling == "rank" else int(meta.get("n_embd") or 0)
        self.fingerprint = self._fingerprint(props, meta)
        self.info = ModelInfo(
            name=self.name,
            path=self.url,
            architecture=str(meta.get("vocab_type", "unknown")) if meta else "unknown",
            description=f"{self.kind} model {model!r}"
            + (f" from {props['model_path']}" if props.get("model_path") else ""),
            n_embd=self.n_embd,
            n_ctx_train=int(meta.get("n_ctx_train") or 0),
            n_ctx=n_ctx,
            pooling=self.pooling,
            vocab_size=int(meta.get("n_vocab") or 0),
            file_size=int(meta.get("size") or 0),
            quantization=str(meta.get("ftype") or props.get("model_ftype") or "unknown"),
            n_params=int(meta.get("n_params") or 0),
            backend=f"remote {self.kind}"
            + (f" ({props['build_info']})" if props.get("build_info") else ""),
            devices=[self.url],
            n_threads=0,
            n_contexts=slots,
            flash_attn="unknown",
            n_ubatch=self.max_tokens,
            fingerprint=self.fingerprint,
        )

    def _list_models(self, required: bool) -> list[dict[str, Any]]:
        path = "/v1/models" if self.kind == "llama-server" else "/models"
        try:
            body = self._transport.call("GET", path)
        except RemoteError as error:
            # Auth and connection failures must surface now; a missing /models may not.
            if required or error.status is None or error.status in (401, 403):
                raise
            return []
        data = body.get("data") if isinstance(body, dict) else None
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def _probe_pooling(self, label: str | None) -> str:
        """none / rank / pooled, from two requests the server refuses before any decode."""
        if label is not None and label not in ("mean", "cls", "last", "none", "rank", POOLED):
            raise InvalidInputError(f"pooling must be mean, cls, last, none or rank, not {label!r}")
        if self.kind == "openai":
            return label or POOLED
        status, data = self._probe("/v1/rerank", {"query": "", "documents": []})
        if status == 400:  # rerank is on; only the empty document list was refused
            return "rank"
        status, data = self._probe("/v1/embeddings", {"input": []})
        message = server_message(data)
        if "not OAI compatible" in message:
            return "none"
        if "does not support embeddings" in message:
            raise RemoteError(f"{self.url} does not serve embeddings: {message}", status=status)
        return label if label not in (None, "none", "rank") else POOLED

    def _probe(self, path: str, payload: Any) -> tuple[int, bytes]:
        """POST a request meant to be refused; a refusal for auth (or a 5xx) still raises."""
        status, data = self._transport.request("POST", path, payload)
        if status in (401, 403) or (status >= 500 and status != 501):
            raise RemoteError(
                self._transport.scrub(
                    f"the server answered {status} to POST {path}: {server_message(data)}"
                ),
                status=status,
            )
        return status, data

    def _fingerprint(self, props: dict[str, Any], meta: dict[str, Any]) -> str:
        """A stable id for the served model (a cache key), from what the server says of it."""
        facts = {
            "kind": self.kind,
            "model": self.model_id,
            "path": props.get("model_path", ""),
            "pooling": self.pooling,
            **{k: meta.get(k) for k in ("n_vocab", "n_embd", "n_params", "size", "ftype")},
        }
        if self.kind == "openai":
            facts["host"] = self._transport.endpoint.url  # names alone are not unique across APIs
        digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
        return "remote-" + digest[:16]

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_reranker(self) -> bool:
        return self.pooling == "rank"

    def close(self) -> None:
        """Close the connections. Later calls raise :class:`ModelClosedError`."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._transport.close()

    def __enter__(self) -> RemoteModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pooling={self.pooling!r}, dim={self.n_embd}"
        return f"<RemoteModel {self.name!r} at {self.url} ({self.kind}) {state}>"

    def _check_open(self) -> None:
        if self._closed:
            raise ModelClosedError(f"model {self.name!r} was closed; load it again")

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            self._check_open()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="embed_nb-http"
                )
            return self._pool

    # --- public API ---------------------------------------------------------------------------

    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = True
    ) -> list[int]:
        """Token ids from the server's ``/tokenize`` (llama-server only)."""
        self._check_open()
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, not {type(text).__name__}")
        utf8(text, 0)
        self._require_llama_server("tokenize")
        body = self._transport.call(
            "POST",
            "/tokenize",
            {"content": text, "add_special": add_special, "parse_special": parse_special},
        )
        return [int(t) for t in body["tokens"]]

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: int = 2,
        truncate: bool = False,
        chunk: bool = False,
        progress: ProgressFn | None = None,
    ) -> Embeddings:
        """Embed one text (giving ``(d,)``) or a list of texts (giving ``(n, d)``) on the server.

        Args:
            texts: a str or a sequence of str.
            normalize: llama.cpp's ``embd_normalize`` (-1, 0, 1, 2 or p > 2), applied by a
                llama-server. For ``kind="openai"`` modes >= 0 are applied here to what the
                server returns (they are scale-free, so this is exact) and -1 keeps it as is.
            truncate, chunk: not available remotely: llama-server refuses inputs that are too
                long, and so does this method, with the server's message.
            progress: called as ``progress(done, total)`` after each request.

        Raises:
            RemoteError: a request failed; nothing of the call is returned.
        """
        if isinstance(texts, Mapping):  # a dict iterates its keys: never what was meant
            raise InvalidInputError("texts must be a str or a list of str, not a mapping")
        items, single = as_text_list(texts)
        mode = check_normalize(normalize)
        self._refuse_fitting(truncate, chunk)
        for i, text in enumerate(items):
            utf8(text, i)
        self._check_open()
        return self._embed_inputs(items, items, single, mode, progress)

    def embed_tokens(self, sequences: Sequence[Sequence[int]], *, normalize: int = 2) -> Embeddings:
        """Embed token id sequences exactly as given (llama-server accepts token arrays)."""
        mode = check_normalize(normalize)
        arrays = token_id_lists(sequences)
        self._check_open()
        self._require_llama_server("embed_tokens")
        texts = [f"<{len(a)} token ids>" for a in arrays]
        result = self._embed_inputs([a.tolist() for a in arrays], texts, False, mode, None)
        return result

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncate: bool = False,
    ) -> RerankResult:
        """Score each document against the query with the server's ``/v1/rerank``.

        Scores are the server's raw ``relevance_score``; sorting and ``top_n`` follow
        :meth:`LocalModel.rerank <embed_nb.engine.LocalModel.rerank>` exactly (stable for ties).
        """
        if not self.is_reranker:
            raise NotARerankerError(
                f"{self.name} at {self.url} is not a reranker (pooling {self.pooling!r}); start "
                "llama-server with --reranking and a reranker GGUF, or use embed_nb.rerank(), "
                "which falls back to cosine similarity"
            )
        docs = rerank_inputs(query, documents, top_n)
        self._refuse_fitting(truncate, False)
        self._check_open()

        def send(batch: _Batch) -> _Answer:
            part = docs[batch.start : batch.stop]
            body = self._transport.call(
                "POST", "/v1/rerank", {"query": query, "documents": part, "top_n": len(part)}
            )
            return _rerank_answer(body, batch)

        answers = self._run(send, len(docs), None)
        scores = np.concatenate([np.asarray(a.values, dtype=np.float64) for a in answers])
        return RerankResult(
            query=query,
            hits=rank_hits(query, docs, scores.tolist(), top_n),
            model=self.name,
            method="rank",
            total_tokens=sum(a.tokens for a in answers),
        )

    # --- internals ----------------------------------------------------------------------------

    def _require_llama_server(self, what: str) -> None:
        if self.kind != "llama-server":
            raise InvalidInputError(f"{what} needs a llama-server; the openai kind has no such API")

    def _refuse_fitting(self, truncate: bool, chunk: bool) -> None:
        if truncate or chunk:
            raise InvalidInputError(
                "truncate and chunk are not available for remote models: the server decides "
                "what fits. Shorten the texts, or load the GGUF locally to use them"
            )

    def _embed_inputs(
        self,
        inputs: list[Any],
        texts: list[str],
        single: bool,
        mode: int,
        progress: ProgressFn | None,
    ) -> Embeddings:
        if self.pooling == "rank":
            raise InvalidInputError(
                f"{self.name} is a reranker (pooling 'rank'); use rerank(query, documents)"
            )
        send = (
            self._token_sender(inputs)
            if self.pooling == "none"
            else self._pooled_sender(inputs, mode)
        )
        answers = self._run(send, len(inputs), progress)
        counts, exact = _token_counts(answers, inputs)
        common: dict[str, Any] = dict(
            texts=texts,
            token_counts=counts,
            model=self.name,
            fingerprint=self.fingerprint,
            pooling=self.pooling,
            single=single,
            extra={"server": self.url, "token_counts_exact": exact},
        )
        if self.pooling == "none":
            vectors = [v for a in answers for v in a.values]
            return Embeddings(vectors=None, normalize=-1, token_vectors=vectors, **common)
        stacked = np.stack([v for a in answers for v in a.values])
        if self.kind == "openai" and mode != -1:
            stacked = normalize_vectors(stacked, mode)
        if self.n_embd == 0:
            self.n_embd = int(stacked.shape[1])
        return Embeddings(vectors=stacked[0] if single else stacked, normalize=mode, **common)

    def _pooled_sender(self, inputs: list[Any], mode: int) -> Callable[[_Batch], _Answer]:
        path = "/v1/embeddings" if self.kind == "llama-server" else "/embeddings"

        def send(batch: _Batch) -> _Answer:
            payload: dict[str, Any] = {
                "input": inputs[batch.start : batch.stop],
                "model": self.model_id,
                "encoding_format": "base64",
            }
            if self.kind == "llama-server":
                payload["embd_normalize"] = mode
            return _pooled_answer(self._transport.call("POST", path, payload), batch)

        return send

    def _token_sender(self, inputs: list[Any]) -> Callable[[_Batch], _Answer]:
        # /v1/embeddings refuses pooling none ("not OAI compatible"); /embeddings serves it.
        def send(batch: _Batch) -> _Answer:
            body = self._transport.call(
                "POST", "/embeddings", {"input": inputs[batch.start : batch.stop]}
            )
            return _token_answer(body, batch)

        return send

    def _batches(self, n: int) -> list[_Batch]:
        """Split n inputs into requests: enough to fill every worker, none over batch_size."""
        size = max(1, min(self.batch_size, math.ceil(n / self.concurrency)))
        return [_Batch(start, min(start + size, n)) for start in range(0, n, size)]

    def _run(
        self, send: Callable[[_Batch], _Answer], n: int, progress: ProgressFn | None
    ) -> list[_Answer]:
        """Send every batch concurrently; all answers in order, or the first error raised."""
        batches = self._batches(n)
        if len(batches) == 1:  # one request: no thread hop
            answers = [send(batches[0])]
            if progress is not None:
                progress(n, n)
            return answers
        pool = self._executor()
        futures = [pool.submit(send, batch) for batch in batches]
        try:
            _wait_all(futures, n, progress)
            return [f.result() for f in futures]
        finally:
            for future in futures:  # on an error or Ctrl-C, send nothing more
                future.cancel()


def _wait_all(futures: list[Future[_Answer]], total: int, progress: ProgressFn | None) -> None:
    """Wait until every future is done or one failed (whose error then raises)."""
    pending: set[Future[_Answer]] = set(futures)
    done_inputs = 0
    while pending:
        done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
            done_inputs += future.result().batch.stop - future.result().batch.start
        if done and progress is not None:
            progress(done_inputs, total)


# --- response parsing --------------------------------------------------------------------------


def _malformed(what: str, error: Exception | str) -> RemoteError:
    return RemoteError(f"the server's {what} answer has an unexpected shape ({error})")


def _pooled_answer(body: Any, batch: _Batch) -> _Answer:
    """``/v1/embeddings``: base64 float32 (or JSON float) vectors, ordered by ``index``."""
    try:
        data = sorted(body["data"], key=lambda d: d["index"])
        values = [_vector(d["embedding"]) for d in data]
        tokens = int((body.get("usage") or {}).get("prompt_tokens") or 0)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _malformed("embeddings", error) from None
    _check_count("embeddings", len(values), batch)
    if len({len(v) for v in values}) > 1:
        raise _malformed("embeddings", "vectors of different lengths")
    return _Answer(batch, values, tokens)


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        raw = base64.b64decode(value, validate=True)
        if len(raw) % 4:
            raise ValueError("base64 embedding is not a whole number of float32")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return np.asarray(value, dtype=np.float32)


def _token_answer(body: Any, batch: _Batch) -> _Answer:
    """``/embeddings`` with pooling none: one ``(n_tokens, d)`` array per input."""
    try:
        data = sorted(body, key=lambda d: d["index"])
        values = [np.asarray(d["embedding"], dtype=np.float32) for d in data]
    except (KeyError, TypeError, ValueError) as error:
        raise _malformed("embeddings", error) from None
    _check_count("embeddings", len(values), batch)
    if any(v.ndim != 2 for v in values):
        raise _malformed("embeddings", "per-token embeddings are not 2-D")
    return _Answer(batch, values, sum(len(v) for v in values))


def _rerank_answer(body: Any, batch: _Batch) -> _Answer:
    """``/v1/rerank``: scores put back in document order."""
    try:
        results = body["results"]
        scores = np.full(batch.stop - batch.start, np.nan)
        for r in results:
            scores[int(r["index"])] = float(r["relevance_score"])
        tokens = int((body.get("usage") or {}).get("prompt_tokens") or 0)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise _malformed("rerank", error) from None
    if np.isnan(scores).any():
        raise _malformed("rerank", "some documents got no score")
    return _Answer(batch, [np.asarray(s) for s in scores], tokens)


def _check_count(what: str, got: int, batch: _Batch) -> None:
    expected = batch.stop - batch.start
    if got != expected:
        raise _malformed(what, f"{got} results for {expected} inputs")


def _token_counts(answers: list[_Answer], inputs: list[Any]) -> tuple[list[int], bool]:
    """Per-input token counts, and whether they are exact.

    A request reports only its total, so a request with one input (or per-token vectors, or
    token ids) gives exact counts; otherwise its exact total is shared out in proportion to
    each text's length (plus one for the special tokens), keeping the total exact.
    """
    counts: list[int] = []
    exact = True
    for answer in answers:
        part = inputs[answer.batch.start : answer.batch.stop]
        if answer.values and answer.values[0].ndim == 2:
            counts.extend(len(v) for v in answer.values)
        elif all(isinstance(p, list) for p in part):
            counts.extend(len(p) for p in part)
        elif len(part) == 1:
            counts.append(answer.tokens)
        else:
            counts.extend(_apportion(answer.tokens, [len(str(p).encode()) + 1 for p in part]))
            exact = False
    return counts, exact


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to ``weights`` that sum to ``total`` (largest remainder)."""
    share = np.asarray(weights, dtype=np.float64) * total / max(sum(weights), 1)
    base = np.floor(share).astype(int)
    for i in np.argsort(-(share - base), kind="stable")[: total - int(base.sum())]:
        base[i] += 1
    return [int(b) for b in base]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")
    return value
