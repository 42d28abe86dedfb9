"""The model interface over HTTP: a llama-server, or any server that speaks OpenAI's embeddings.

:class:`RemoteModel` has the same methods and attributes as :class:`~embed_nb.engine.LocalModel`,
so results, caches, magics and widgets do not care where the vectors come from. What it sends
comes from its dialect (:mod:`._dialect`), what it knows of the server from discovery
(:mod:`._discovery`), and every request goes through a transport (:mod:`._http`) that can be
passed in.

A call is split into several requests sent at once (the server decodes them in parallel slots).
Connection errors and 503 are retried with exponential backoff a bounded number of times, all
within the request's ``timeout``; any other status becomes a :class:`~embed_nb.errors.RemoteError`
carrying the server's own message. Every answer is checked against what the request asked and
what the server said of itself (:mod:`._answers`), and a result is returned only when every
request of the call succeeded: nothing partial or malformed escapes.

The API key is kept in a :class:`~._secret.Secret`, sent only where
:func:`~._secret.resolve_api_key` allows, and every text that leaves this class (errors, repr,
``info``, names) is scrubbed of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from ...errors import InvalidInputError, ModelClosedError, NotARerankerError
from ...prompts import family_of, resolve_prompts
from ...request import EmbedRequest, checked_request
from ...results import Embeddings, RerankResult, rank_hits
from ..inputs import as_input_list, rerank_inputs, token_id_lists, utf8
from . import _answers as answers
from . import _batching as batching
from . import _media as media_wire
from . import _requests as requests
from ._client import Client
from ._dialect import dialect_for
from ._discovery import describe, discover
from ._endpoint import Endpoint
from ._http import RetryPolicy, Transport, TransportFactory
from ._options import RemoteOptions
from ._secret import Scrubber, Secret, env_key_skipped, known_secrets, resolve_api_key, shielded

__all__ = ["RemoteModel"]

ProgressFn = batching.ProgressFn


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
        transport: what builds the transport, called like :class:`~._http.Transport` (a
            subclass is one); default :class:`~._http.Transport`. Tests pass one that
            injects faults.

    Raises:
        InvalidInputError: a bad URL or option, or a key that may not be sent there.
        RemoteError: the server cannot be reached or does not answer as a server should.
    """

    #: The most tokens any input embedded so far had (server counts); read by the doctor.
    longest_input = 0

    @shielded
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
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        transport: TransportFactory | None = None,
    ) -> None:
        # The keyword arguments (transport aside) are RemoteOptions' fields; a test keeps
        # them the same.
        options = RemoteOptions(
            kind=kind,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            backoff=backoff,
            retries=retries,
            batch_size=batch_size,
            concurrency=concurrency,
            max_tokens=max_tokens,
            pooling=pooling,
            model=model,
            name=name,
            allow_insecure=allow_insecure,
            query_prompt=query_prompt,
            document_prompt=document_prompt,
        )
        #: The options it was made with, as given (a Dask worker makes its copy from them).
        self.options = options
        self._dialect = dialect_for(options.kind)
        self.batch_size = options.batch_size
        if transport is not None and not callable(transport):
            raise InvalidInputError("transport must be a callable that builds a transport")
        self.kind = self._dialect.name
        endpoint = self._dialect.base(Endpoint.parse(url))
        self.url = endpoint.url
        key = resolve_api_key(api_key, self.kind, self.url, allow_insecure=options.allow_insecure)
        self._scrubber = Scrubber(known_secrets(key))
        skipped = None if key is not None else env_key_skipped(self.kind, self.url)
        self._transport = (transport or Transport)(
            endpoint,
            api_key=key,
            scrubber=self._scrubber,
            timeout=options.timeout,
            connect_timeout=options.connect_timeout,
            retry=RetryPolicy(options.retries, options.backoff),
        )
        self._client = Client(self._transport, self._scrubber, skipped)
        self._closed = False
        self._lock = threading.Lock()
        self._dim_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        try:
            self._discover(options)
        except BaseException:
            self._transport.close()
            raise

    def _discover(self, options: RemoteOptions) -> None:
        """Ask the server what it is (:func:`~._discovery.discover`) and take it on."""
        record = discover(self._client, self._dialect, self.url, options.model, options.pooling)
        self._wire_model = record.wire_model
        self.model_id = record.model_id
        self.name = options.name or self.model_id
        self.concurrency = options.concurrency or min(record.slots, 8)
        self.pooling = record.pooling
        self._ctx = record.n_ctx  # bounds token counts and answer sizes (0: not known)
        self.max_tokens = options.max_tokens or record.n_ctx or 512
        self._n_vocab = record.n_vocab
        self.n_embd = record.n_embd
        self.fingerprint, self.info = describe(
            record,
            self._client,
            name=self.name,
            url=self.url,
            kind=self.kind,
            max_tokens=self.max_tokens,
        )
        # Presets from the model name the server reports (see embed_nb.prompts).
        self.prompts = resolve_prompts(
            family_of(self), options.query_prompt, options.document_prompt
        )
        self.info = replace(self.info, prompts=self.prompts.describe())
        self._discover_media(record.props)

    def _discover_media(self, props: dict[str, Any]) -> None:
        """What the server embeds beside text (a llama-server with ``--mmproj``), and a digest
        of a probe image's vector: the projector's part of an image's cache key."""
        self._media = media_wire.MediaServer((), "")
        #: What, beside :attr:`fingerprint`, decides an image's vector (as LocalModel's).
        self.media_fingerprint = ""
        if not self._dialect.has_props or self.pooling in ("none", "rank"):
            return  # images are embedded as pooled vectors only, as in the kernel
        self._media = media_wire.media_server(self._client, props)
        if self._media.modalities:
            self.media_fingerprint = media_wire.probe_digest(
                self._client, self._media, self._wire_model.value, self.n_embd
            )
            self.info = replace(self.info, modalities=("text", *self._media.modalities))

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

    @shielded
    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = True
    ) -> list[int]:
        """Token ids from the server's ``/tokenize`` (llama-server only)."""
        self._check_open()
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, not {type(text).__name__}")
        utf8(text, 0)
        self._require("tokenize", self._dialect.tokenizes)
        return requests.tokenize(
            self._client, self._dialect, text, add_special, parse_special, self._n_vocab
        )

    @shielded
    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: int = 2,
        truncate: bool = False,
        chunk: bool = False,
        progress: ProgressFn | None = None,
        request: EmbedRequest | None = None,
    ) -> Embeddings:
        """Embed one text (giving ``(d,)``) or a list of texts (giving ``(n, d)``) on the server.

        Args:
            texts: a str or a sequence of str; images and audio may stand beside the texts
                (as for :meth:`LocalModel.embed <embed_nb.engine.LocalModel.embed>`) when the
                llama-server was started with ``--mmproj``.
            normalize: llama.cpp's ``embd_normalize`` (-1, 0, 1, 2 or p > 2), applied by a
                llama-server. For ``kind="openai"`` modes >= 0 are applied here to what the
                server returns (they are scale-free, so this is exact) and -1 keeps it as is.
            truncate, chunk: not available remotely: llama-server refuses inputs that are too
                long, and so does this method, with the server's message.
            progress: called as ``progress(done, total)`` after each request.
            request: an :class:`~embed_nb.request.EmbedRequest`, instead of ``normalize``,
                ``truncate`` and ``chunk``.

        Raises:
            RemoteError: a request failed, or an answer was malformed; nothing of the call
                is returned.
        """
        if isinstance(texts, Mapping):  # a dict iterates its keys: never what was meant
            raise InvalidInputError("texts must be a str or a list of str, not a mapping")
        items, single = as_input_list(texts)
        request = checked_request(request, normalize=normalize, truncate=truncate, chunk=chunk)
        self._refuse_fitting(request.truncate, request.chunk)
        media = {i: item for i, item in enumerate(items) if not isinstance(item, str)}
        for i, text in enumerate(items):
            if isinstance(text, str):
                utf8(text, i)
        self._check_open()
        if media:
            return self._embed_with_media(items, media, request, single, progress)
        return self._embed_inputs(items, items, request, single=single, progress=progress)

    @shielded
    def embed_tokens(self, sequences: Sequence[Sequence[int]], *, normalize: int = 2) -> Embeddings:
        """Embed token id sequences exactly as given (llama-server accepts token arrays)."""
        request = checked_request(None, normalize=normalize)
        arrays = token_id_lists(sequences)
        self._check_open()
        self._require("embed_tokens", self._dialect.takes_token_ids)
        texts = [f"<{len(a)} token ids>" for a in arrays]
        return self._embed_inputs([a.tolist() for a in arrays], texts, request)

    @shielded
    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncate: bool = False,
        instruction: str | None = None,
    ) -> RerankResult:
        """Score each document against the query with the server's ``/v1/rerank``.

        Scores are the server's raw ``relevance_score``; sorting and ``top_n`` follow
        :meth:`LocalModel.rerank <embed_nb.engine.LocalModel.rerank>` exactly (stable for ties).
        ``instruction`` is refused: llama-server's ``/v1/rerank`` takes none (it fills only
        ``{query}`` and ``{document}`` into the model's template).
        """
        if instruction is not None:
            raise InvalidInputError(
                f"{self.name} at {self.url} is a llama-server, whose /v1/rerank takes no "
                "instruction (it fills only {query} and {document} into the template); "
                "load the reranker GGUF in the kernel to pass an instruction"
            )
        if not self.is_reranker:
            raise NotARerankerError(
                f"{self.name} at {self.url} is not a reranker (pooling {self.pooling!r}); start "
                "llama-server with --reranking and a reranker GGUF, or use embed_nb.rerank(), "
                "which falls back to cosine similarity"
            )
        docs = rerank_inputs(query, documents, top_n)
        self._refuse_fitting(truncate, False)
        self._check_open()

        def send(batch: batching.Batch) -> batching.Answer:
            part = docs[batch.start : batch.stop]
            scores, tokens = requests.rerank(self._client, self._dialect, query, part, self._ctx)
            return batching.Answer(batch, [np.asarray(s) for s in scores], tokens)

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

    def _require(self, what: str, capable: bool) -> None:
        if not capable:
            raise InvalidInputError(
                f"{what} needs a llama-server; the {self.kind} kind has no such API"
            )

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
        request: EmbedRequest,
        *,
        single: bool = False,
        progress: ProgressFn | None = None,
    ) -> Embeddings:
        if self.pooling == "rank":
            raise InvalidInputError(
                f"{self.name} is a reranker (pooling 'rank'); use rerank(query, documents)"
            )
        mode = request.normalize
        send = (
            self._token_sender(inputs, self.n_embd)
            if self.pooling == "none"
            else self._pooled_sender(inputs, mode, self.n_embd)
        )
        answers_ = self._run(send, len(inputs), progress)
        counts, exact = batching.token_counts(answers_, inputs)
        # The doctor compares the longest text seen with the context (estimated if not exact).
        self.longest_input = max(self.longest_input, *counts, 0)
        rows = [v for a in answers_ for v in a.values]
        return Embeddings.from_parts(
            model=self,
            request=request,
            texts=texts,
            rows=rows if self.pooling == "none" else self._dialect.finish(np.stack(rows), mode),
            token_counts=counts,
            single=single,
            extra={"server": self.url, "token_counts_exact": exact},
        )

    def _media_now(self) -> media_wire.MediaServer:
        """The server's media support with its marker of now: llama-server draws a new one at
        each start. A server restarted without its projector takes no more media."""
        if not self._media.modalities:
            return self._media
        now = media_wire.from_props(self._dialect.props(self._client, self.url))
        if not now.modalities:
            return replace(self._media, modalities=())
        return replace(self._media, marker=now.marker)

    def _embed_with_media(
        self,
        items: list[Any],
        media: dict[int, Any],
        request: EmbedRequest,
        single: bool,
        progress: ProgressFn | None,
    ) -> Embeddings:
        """Texts as usual, images and audio by the server's media route (see :mod:`._media`);
        the rows in input order, normalised alike by the server."""
        if self.pooling in ("none", "rank"):
            raise InvalidInputError(
                f"{self.name} pools {self.pooling!r}; images are embedded as pooled vectors, "
                "so start llama-server with --pooling mean (or last) and --mmproj"
            )
        server = self._media_now() if self.kind == "llama-server" else self._media
        media_wire.refuse_media(media, server, self.name, self.url, self.kind)
        mode = request.normalize
        texts = [i for i in range(len(items)) if i not in media]
        rows: list[np.ndarray] = [np.empty(0, np.float32)] * len(items)
        counts = [0] * len(items)
        exact = True
        if texts:
            inputs = [items[i] for i in texts]
            done = self._run(self._pooled_sender(inputs, mode, self.n_embd), len(inputs), None)
            text_counts, exact = batching.token_counts(done, inputs)
            text_rows = [v for a in done for v in a.values]
            for i, row, n in zip(texts, text_rows, text_counts, strict=True):
                rows[i], counts[i] = row, n
        # One image per request and one request at a time, not ``concurrency``: llama-server
        # pools only the last batch a slot decodes, and with other slots busy a caption may
        # be split across two batches (seen: 6 of 32 captioned images up to 1.6e-2 off with
        # 4 requests in flight on a -np 4 server; exact with one).
        for sent, index in enumerate(sorted(media), 1):
            vectors, tokens = media_wire.send_media(
                self._client, server, self._wire_model.value, [media[index]], mode, self.n_embd
            )
            rows[index], counts[index] = vectors[0], tokens
            if progress is not None:
                progress(len(texts) + sent, len(items))
        # Each request's token count is the image's own by content parts; /embedding has none.
        exact = exact and server.route == media_wire.CONTENT_PARTS
        self.longest_input = max(self.longest_input, *counts, 0)
        return Embeddings.from_parts(
            model=self,
            request=request,
            texts=items,
            rows=list(self._dialect.finish(np.stack(rows), mode)),
            token_counts=counts,
            single=single,
            extra={"server": self.url, "token_counts_exact": exact},
        )

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
        self, inputs: list[Any], mode: int, dim: int
    ) -> Callable[[batching.Batch], batching.Answer]:
        """Requests for pooled vectors of ``dim`` values (0: not known; the first answer then
        sets it for every later one)."""

        def send(batch: batching.Batch) -> batching.Answer:
            part = inputs[batch.start : batch.stop]
            vectors, tokens = requests.pooled(
                self._client,
                self._dialect,
                self._wire_model.value,
                part,
                mode,
                dim,
                self._ctx,
                on_dim=self._held_dim,
            )
            return batching.Answer(batch, list(vectors), tokens)

        return send

    def _token_sender(
        self, inputs: list[Any], dim: int
    ) -> Callable[[batching.Batch], batching.Answer]:
        def send(batch: batching.Batch) -> batching.Answer:
            part = inputs[batch.start : batch.stop]
            values = requests.token_vectors(self._client, self._dialect, part, dim, self._ctx)
            return batching.Answer(batch, values, sum(len(v) for v in values))

        return send

    def _batches(self, n: int) -> list[batching.Batch]:
        """Split n inputs into requests: enough to fill every worker, none over batch_size."""
        return batching.split(n, self.batch_size, self.concurrency)

    def _run(
        self,
        send: Callable[[batching.Batch], batching.Answer],
        n: int,
        progress: ProgressFn | None,
    ) -> list[batching.Answer]:
        """Send every batch concurrently; all answers in order, or the first error raised."""
        return batching.run(send, self._batches(n), n, self._executor, progress)
