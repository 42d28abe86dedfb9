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
Connection errors and 503 are retried with exponential backoff a bounded number of times, all
within the request's ``timeout``; any other status becomes a :class:`~embed_nb.errors.RemoteError`
carrying the server's own message. Every answer is checked against what the request asked and
what the server said of itself (:mod:`._remote_answers`), and a result is returned only when
every request of the call succeeded: nothing partial or malformed escapes.

The API key is kept in a :class:`Secret`, sent only where :func:`resolve_api_key` allows, and
every text that leaves this class (errors, repr, ``info``, names) is scrubbed of it.

The parts live in private modules: ``_remote_secret`` (key policy, scrubbing), ``_remote_http``
(URL, transport, deadline, size caps) and ``_remote_answers`` (validation).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..errors import (
    EmbedNbError,
    InvalidInputError,
    ModelClosedError,
    NotARerankerError,
    RemoteError,
)
from ..results import Embeddings, RerankResult, rank_hits
from . import _remote_answers as answers
from ._remote_http import (
    CONNECTION_ERRORS,
    RETRY_STATUSES,
    Endpoint,
    Reply,
    RetryPolicy,
    Transport,
    server_message,
)
from ._remote_secret import (
    API_KEY_ENV,
    HOSTS_ENV,
    Scrubber,
    Secret,
    env_key_skipped,
    known_secrets,
    resolve_api_key,
)
from .info import ModelInfo
from .inputs import as_text_list, rerank_inputs, token_id_lists, utf8
from .normalize import check_normalize
from .normalize import normalize as normalize_vectors

__all__ = [
    "API_KEY_ENV",
    "CONNECTION_ERRORS",
    "HOSTS_ENV",
    "KINDS",
    "RETRY_STATUSES",
    "Endpoint",
    "RemoteModel",
    "RetryPolicy",
    "Secret",
    "Transport",
    "resolve_api_key",
    "server_message",
]

KINDS = ("llama-server", "openai")
POOLED = "pooled"  # the server pools (mean, cls or last): which one it does not say
POOLINGS = ("mean", "cls", "last", "none", "rank", POOLED)
# What the fingerprint probe embeds: fixed, so that the same server always gives the same hash.
PROBE_TEXT = "embed_nb fingerprint probe: the quick brown fox"
# Upper bounds for options: beyond them a value is a typo, and some would overflow C timeouts
# or start a thread per unit.
MAX_SECONDS = 7 * 24 * 3600.0
MAX_RETRIES = 100
MAX_CONCURRENCY = 64
MAX_BATCH = 4096
MAX_ID = 4096  # characters of a model id sent back to the server
NAME_LIMIT = 200  # characters of a server-supplied name or path that is shown

T = TypeVar("T")
ProgressFn = Callable[[int, int], None]


def _shielded(method: Callable[..., T]) -> Callable[..., T]:
    """Run ``method`` so that no exception leaves it showing a key (the last line of defence:
    messages are scrubbed where they are made, and this catches any that were not)."""

    @functools.wraps(method)
    def wrapper(self: RemoteModel, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            scrubber: Scrubber | None = getattr(self, "_scrubber", None)
            if scrubber is None:
                raise
            text = str(error)
            clean = scrubber.scrub(text)
            if clean == text:
                raise
            if isinstance(error, EmbedNbError):
                error.args = (clean,)
                raise
            raise RemoteError(scrubber.clean(f"{type(error).__name__}: {clean}", 500)) from None

    return wrapper


class _Opaque:
    """A server-supplied string sent back as is but never shown (it may hold anything)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<as the server gave it>"


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
            ``$LLAMA_API_KEY`` (llama-server) or ``$OPENAI_API_KEY`` (openai), but only to a
            loopback host or one listed in ``$EMBED_NB_API_KEY_HOSTS`` (see docs/remote.md).
        model: the model name to send. Default: the only one ``/models`` lists.
        name: the display name. Default: the model name.
        timeout: seconds one request may take, from connecting to the last byte of the
            answer, retries and their backoff included (a call may send many requests).
        connect_timeout: seconds to wait for a connection.
        retries: how many times a connection error or 503 is retried (backoff doubles).
        backoff: the first retry's delay in seconds.
        concurrency: requests in flight at once. Default: the server's slots, at most 8.
        batch_size: most texts (or documents) per request.
        max_tokens: the longest input, for :attr:`max_tokens` (the server still decides).
        pooling: a label for the server's pooling (``"mean"``, ``"cls"``, ``"last"``), which
            no endpoint reports; default ``"pooled"``. ``none`` and ``rank`` are detected.
        allow_insecure: send an API key over plain http to a host that is not loopback.
            Off by default: anyone on the network path could read it.

    Raises:
        InvalidInputError: a bad URL or option, or a key that may not be sent there.
        RemoteError: the server cannot be reached or does not answer as a server should.
    """

    @_shielded
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
        allow_insecure: bool = False,
    ) -> None:
        if not isinstance(kind, str) or kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}")
        timeout = _seconds("timeout", timeout, positive=True)
        connect_timeout = _seconds("connect_timeout", connect_timeout, positive=True)
        backoff = _seconds("backoff", backoff, positive=False)
        retries = _bounded_int("retries", retries, 0, MAX_RETRIES)
        self.batch_size = _bounded_int("batch_size", batch_size, 1, MAX_BATCH)
        if concurrency is not None:
            concurrency = _bounded_int("concurrency", concurrency, 1, MAX_CONCURRENCY)
        if max_tokens is not None:
            max_tokens = _bounded_int("max_tokens", max_tokens, 1, answers.MAX_CTX)
        if pooling is not None and (not isinstance(pooling, str) or pooling not in POOLINGS):
            raise InvalidInputError("pooling must be mean, cls, last, none or rank")
        model = _optional_text("model", model, MAX_ID)
        name = _optional_text("name", name, NAME_LIMIT)
        if type(allow_insecure) is not bool:
            raise InvalidInputError("allow_insecure must be True or False")
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
        key = resolve_api_key(api_key, kind, self.url, allow_insecure=allow_insecure)
        self._scrubber = Scrubber(known_secrets(key))
        self._skipped_key = None if key is not None else env_key_skipped(kind, self.url)
        self._transport = Transport(
            endpoint,
            api_key=key,
            scrubber=self._scrubber,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retry=RetryPolicy(retries, backoff),
        )
        self._closed = False
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        try:
            self._discover(model, name, pooling, max_tokens, concurrency)
        except BaseException:
            self._transport.close()
            raise

    # --- talking to the server ------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None, *, limit: int) -> Any:
        """One JSON request; a 401/403 says so when an environment key was held back."""
        reply = self._transport.request(method, path, payload, limit=limit)
        self._check(reply, f"{method} {path}")
        return self._transport.parse_json(reply.body, f"{method} {path}")

    def _check(self, reply: Reply, what: str) -> None:
        try:
            self._transport.check_status(reply, what)
        except RemoteError as error:
            if error.status in (401, 403) and self._skipped_key is not None:
                raise RemoteError(
                    f"{error} (the key in ${self._skipped_key} was not sent to this host: list "
                    f"it in ${HOSTS_ENV}, or pass api_key=)",
                    status=error.status,
                ) from None
            raise

    def _malformed(self, what: str, error: Exception) -> RemoteError:
        return RemoteError(
            self._scrubber.clean(
                f"the server's {what} answer has an unexpected shape ({error}); it does not "
                "behave as a llama-server or OpenAI-compatible API should",
                500,
            )
        )

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
        clean = self._scrubber.clean
        if self.kind == "llama-server":
            props = self._call("GET", "/props", limit=answers.PROPS_LIMIT)
            if not isinstance(props, dict):
                raise RemoteError(
                    f"GET /props at {self.url} did not answer a JSON object; is it a "
                    "llama-server? For another server pass kind='openai'"
                )
            listed = self._list_models(required=True)
        else:
            props = {}
            listed = self._list_models(required=False)
        meta = listed[0].get("meta") if len(listed) == 1 else None
        meta = meta if isinstance(meta, dict) else {}
        if model is None:
            if len(listed) != 1:
                raise InvalidInputError(
                    f"{self.url} serves {len(listed) or 'no listed'} models; pass model=..."
                )
            model = listed[0].get("id")
            if not isinstance(model, str) or not model.strip() or len(model) > MAX_ID:
                raise RemoteError(
                    f"{self.url} lists its model without a usable id; pass model=... by hand"
                )
        # The id goes back to the server as is; what is shown is scrubbed and on one line.
        self._wire_model = _Opaque(model)
        self.model_id = clean(model, NAME_LIMIT)
        self.name = name or self.model_id
        slots = answers.int_field(props, "total_slots", 1, 1 << 16) or 1
        self.concurrency = concurrency or min(slots, 8)
        self.pooling = self._probe_pooling(pooling)
        settings = props.get("default_generation_settings")
        n_ctx = (
            answers.int_field(meta, "n_ctx", 1, answers.MAX_CTX)
            or answers.int_field(settings, "n_ctx", 1, answers.MAX_CTX)
            or 0
        )
        self._ctx = n_ctx  # bounds token counts and answer sizes (0: not known)
        self.max_tokens = max_tokens or n_ctx or 512
        self._n_vocab = answers.int_field(meta, "n_vocab", 1, 1 << 31) or 0
        self._dim_lock = threading.Lock()
        meta_dim = answers.int_field(meta, "n_embd", 1, answers.MAX_DIM) or 0
        probe = ""
        if self.pooling == "rank":
            self.n_embd = 1
        elif self.kind == "llama-server":
            # What the server really returns: its dimension (llama.cpp's n_embd_out, which
            # /v1/models does not report) and a digest that tells its pooling apart.
            self.n_embd, probe = self._probe_vectors()
        else:
            self.n_embd = meta_dim  # 0: learned from the first answer, then held to
        model_path = answers.str_field(props, "model_path")
        build = answers.str_field(props, "build_info")
        self.fingerprint = self._fingerprint(props, meta, model_path, probe)
        self.info = ModelInfo(
            name=self.name,
            path=self.url,
            architecture=clean(answers.str_field(meta, "vocab_type") or "unknown", 40),
            description=f"{self.kind} model {self.model_id!r}"
            + (f" from {clean(model_path, NAME_LIMIT)}" if model_path else ""),
            n_embd=self.n_embd,
            n_ctx_train=answers.int_field(meta, "n_ctx_train", 1, answers.MAX_CTX) or 0,
            n_ctx=n_ctx,
            pooling=self.pooling,
            vocab_size=self._n_vocab,
            file_size=answers.int_field(meta, "size", 0, 1 << 50) or 0,
            quantization=clean(
                answers.str_field(meta, "ftype")
                or answers.str_field(props, "model_ftype")
                or "unknown",
                40,
            ),
            n_params=answers.int_field(meta, "n_params", 0, 1 << 50) or 0,
            backend=f"remote {self.kind}" + (f" ({clean(build, 80)})" if build else ""),
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
            body = self._call("GET", path, limit=answers.MODELS_LIMIT)
        except RemoteError as error:
            # Auth and connection failures must surface now; a missing /models may not.
            if required or error.status is None or error.status in (401, 403):
                raise
            return []
        data = body.get("data") if isinstance(body, dict) else None
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def _probe_pooling(self, label: str | None) -> str:
        """none / rank / pooled, from two requests the server refuses before any decode."""
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
            raise RemoteError(
                f"{self.url} does not serve embeddings: {self._transport.server_message(data)}",
                status=status,
            )
        return label if label not in (None, "none", "rank") else POOLED

    def _probe(self, path: str, payload: Any) -> tuple[int, bytes]:
        """POST a request meant to be refused; a refusal for auth (or a 5xx) still raises."""
        reply = self._transport.request("POST", path, payload, limit=answers.PROBE_LIMIT)
        status = reply.status
        if status in (401, 403) or (status >= 500 and status != 501) or 300 <= status < 400:
            self._check(reply, f"POST {path}")
        return status, reply.body

    def _probe_vectors(self) -> tuple[int, str]:
        """Embed a fixed text once: the dimension the server returns, and a digest of it."""
        if self.pooling == "none":
            arrays = self._token_sender([PROBE_TEXT], 0)(_Batch(0, 1)).values
            vector = arrays[0].mean(axis=0)
        else:
            answer = self._pooled_sender([PROBE_TEXT], 2, 0, hold=False)(_Batch(0, 1))
            vector = answer.values[0]
        dim = int(vector.shape[0])
        # Coarse, so that the same server gives the same digest even if its rounding moves
        # (a moved digest costs a cache miss, never a wrong vector); mean, cls and last
        # pooling differ far more than one step.
        norm = float(np.linalg.norm(vector)) or 1.0
        z = vector[:32] / norm * math.sqrt(dim)
        steps = np.clip(np.floor(z / 0.5), -127, 127).astype(np.int8)
        return dim, hashlib.sha256(steps.tobytes()).hexdigest()[:16]

    def _fingerprint(
        self, props: dict[str, Any], meta: dict[str, Any], model_path: str | None, probe: str
    ) -> str:
        """A cache key for what this server computes: where it is, what it serves, how it pools.

        Two servers never share one (the endpoint is part of it), nor does one server
        restarted with another pooling (the probe digest tells them apart).
        """
        ep = self._transport.endpoint
        facts = {
            "v": 2,
            "kind": self.kind,
            "endpoint": f"{ep.scheme}://{ep.host}:{ep.port}{ep.prefix}",
            "model": self._wire_model.value,
            "path": model_path or "",
            "pooling": self.pooling if self.pooling in ("none", "rank") else POOLED,
            "probe": probe,
            "n_embd": self.n_embd,
            **{k: answers.int_field(meta, k, 0, 1 << 62) for k in ("n_vocab", "n_params", "size")},
            "ftype": answers.str_field(meta, "ftype"),
        }
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
        text = f"<RemoteModel {self.name!r} at {self.url} ({self.kind}) {state}>"
        return self._scrubber.scrub(text)

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

    @_shielded
    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = True
    ) -> list[int]:
        """Token ids from the server's ``/tokenize`` (llama-server only)."""
        self._check_open()
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, not {type(text).__name__}")
        utf8(text, 0)
        self._require_llama_server("tokenize")
        body = self._call(
            "POST",
            "/tokenize",
            {
                "content": text,
                "add_special": bool(add_special),
                "parse_special": bool(parse_special),
            },
            limit=answers.tokenize_limit(text),
        )
        bound = len(text.encode("utf-8", "surrogatepass")) + 16
        try:
            return answers.parse_tokens(body, self._n_vocab, bound)
        except answers.Malformed as error:
            raise self._malformed("tokenize", error) from None

    @_shielded
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
            RemoteError: a request failed, or an answer was malformed; nothing of the call
                is returned.
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

    @_shielded
    def embed_tokens(self, sequences: Sequence[Sequence[int]], *, normalize: int = 2) -> Embeddings:
        """Embed token id sequences exactly as given (llama-server accepts token arrays)."""
        mode = check_normalize(normalize)
        arrays = token_id_lists(sequences)
        self._check_open()
        self._require_llama_server("embed_tokens")
        texts = [f"<{len(a)} token ids>" for a in arrays]
        return self._embed_inputs([a.tolist() for a in arrays], texts, False, mode, None)

    @_shielded
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
            body = self._call(
                "POST",
                "/v1/rerank",
                {"query": query, "documents": part, "top_n": len(part)},
                limit=answers.rerank_limit([query, *part]),
            )
            try:
                scores, tokens = answers.parse_rerank(body, len(part), self._token_bound(len(part)))
            except answers.Malformed as error:
                raise self._malformed("rerank", error) from None
            return _Answer(batch, [np.asarray(s) for s in scores], tokens)

        answers_ = self._run(send, len(docs), None)
        scores = np.concatenate([np.asarray(a.values, dtype=np.float64) for a in answers_])
        return RerankResult(
            query=query,
            hits=rank_hits(query, docs, scores.tolist(), top_n),
            model=self.name,
            method="rank",
            total_tokens=sum(a.tokens for a in answers_),
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

    def _token_bound(self, n: int) -> int:
        """Most prompt tokens ``n`` inputs can have: the server's context each."""
        return n * (self._ctx or answers.MAX_CTX)

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
            self._token_sender(inputs, self.n_embd)
            if self.pooling == "none"
            else self._pooled_sender(inputs, mode, self.n_embd)
        )
        answers_ = self._run(send, len(inputs), progress)
        counts, exact = _token_counts(answers_, inputs)
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
            vectors = [v for a in answers_ for v in a.values]
            return Embeddings(vectors=None, normalize=-1, token_vectors=vectors, **common)
        stacked = np.stack([v for a in answers_ for v in a.values])
        if self.kind == "openai" and mode != -1:
            stacked = normalize_vectors(stacked, mode)
        return Embeddings(vectors=stacked[0] if single else stacked, normalize=mode, **common)

    def _held_dim(self, got: int) -> None:
        """Hold every answer to the dimension the server showed first (when discovery could
        not tell it): an answer that disagrees is refused, not mixed in."""
        with self._dim_lock:
            if self.n_embd == 0:
                self.n_embd = got
            elif got != self.n_embd:
                raise answers.Malformed(
                    f"vectors of {got} values, but the server's embeddings have {self.n_embd}"
                )

    def _pooled_sender(
        self, inputs: list[Any], mode: int, dim: int, *, hold: bool = True
    ) -> Callable[[_Batch], _Answer]:
        """Requests for pooled vectors of ``dim`` values (0: not known; with ``hold`` the
        first answer then sets it for every later one)."""
        path = "/v1/embeddings" if self.kind == "llama-server" else "/embeddings"

        def send(batch: _Batch) -> _Answer:
            part = inputs[batch.start : batch.stop]
            payload: dict[str, Any] = {
                "input": part,
                "model": self._wire_model.value,
                "encoding_format": "base64",
            }
            if self.kind == "llama-server":
                payload["embd_normalize"] = mode
            body = self._call("POST", path, payload, limit=answers.pooled_limit(len(part), dim))
            try:
                vectors, tokens = answers.parse_pooled(
                    body, len(part), dim, self._token_bound(len(part))
                )
                if self.kind == "llama-server":
                    answers.check_normalized(vectors, mode)
                if dim == 0 and hold:
                    self._held_dim(vectors.shape[1])
            except answers.Malformed as error:
                raise self._malformed("embeddings", error) from None
            return _Answer(batch, list(vectors), tokens)

        return send

    def _token_sender(self, inputs: list[Any], dim: int) -> Callable[[_Batch], _Answer]:
        # /v1/embeddings refuses pooling none ("not OAI compatible"); /embeddings serves it.
        def send(batch: _Batch) -> _Answer:
            part = inputs[batch.start : batch.stop]
            limit = answers.token_vectors_limit(len(part), self._ctx, dim)
            body = self._call("POST", "/embeddings", {"input": part}, limit=limit)
            try:
                values = answers.parse_token_vectors(body, len(part), dim, self._ctx)
            except answers.Malformed as error:
                raise self._malformed("embeddings", error) from None
            return _Answer(batch, values, sum(len(v) for v in values))

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
            result = [send(batches[0])]
            if progress is not None:
                progress(n, n)
            return result
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


def _token_counts(answers_: list[_Answer], inputs: list[Any]) -> tuple[list[int], bool]:
    """Per-input token counts, and whether they are exact.

    A request reports only its total, so a request with one input (or per-token vectors, or
    token ids) gives exact counts; otherwise its exact total is shared out in proportion to
    each text's length (plus one for the special tokens), keeping the total exact.
    """
    counts: list[int] = []
    exact = True
    for answer in answers_:
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


# --- options ------------------------------------------------------------------------------------


def _seconds(name: str, value: object, *, positive: bool) -> float:
    """A finite number of seconds, > 0 (or >= 0), at most a week."""
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int beyond any float
            number = float(value)
    ok = math.isfinite(number) and (number > 0 if positive else number >= 0)
    ok = ok and number <= MAX_SECONDS
    if not ok:
        sign = "positive" if positive else "non-negative"
        raise InvalidInputError(
            f"{name} must be a {sign} number of seconds, at most {MAX_SECONDS:g}"
        )
    return number


def _bounded_int(name: str, value: object, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        shown = (
            repr(value)
            if type(value) in (int, float, bool) and len(repr(value)) < 30
            else (f"a {type(value).__name__}")
        )
        raise InvalidInputError(f"{name} must be an integer from {lo} to {hi}, not {shown}")
    return value


def _optional_text(name: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInputError(f"{name} must be a non-empty str of at most {limit} characters")
    return value
