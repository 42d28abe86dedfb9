"""What each kind of server speaks: its routes, payloads, answer parsers and capabilities.

:class:`LlamaServer` uses llama.cpp's own endpoints:

- pooled models: ``POST /v1/embeddings`` with ``encoding_format: base64`` and ``embd_normalize``
  (float32 bytes instead of JSON numbers: smaller, faster, and bit-exact), and the answer must
  be normalised as asked;
- pooling ``none``: ``POST /embeddings`` (one vector per token; ``/v1`` refuses it);
- rerankers: ``POST /v1/rerank``; tokens: ``POST /tokenize``;
- ``GET /props`` and ``GET /v1/models`` describe the model, and two requests the server
  refuses before any decode tell its pooling.

:class:`OpenAICompatible` speaks only ``POST {base}/embeddings`` in OpenAI's shape and
normalises here, on the client (every mode >= 0 is scale-free, so this is exact).

The model asks a dialect, never a kind string, what to send and what it may do.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...errors import RemoteError
from ..normalize import normalize as normalize_vectors
from . import _answers as answers
from ._client import Client
from ._endpoint import Endpoint

__all__ = ["DIALECTS", "KINDS", "Dialect", "LlamaServer", "OpenAICompatible", "dialect_for"]


class Dialect:
    """The shared shape of a server's API; subclasses fill in what differs."""

    #: The ``kind=`` that selects this dialect (also named in info and fingerprints).
    name: ClassVar[str]
    #: ``GET`` route listing the served models, and whether a server must have it.
    models_path: ClassVar[str]
    models_required: ClassVar[bool]
    #: Route for pooled vectors.
    embeddings_path: ClassVar[str]
    #: Route for per-token vectors (pooling ``none``) and for scores (pooling ``rank``).
    token_vectors_path: ClassVar[str] = "/embeddings"
    rerank_path: ClassVar[str] = "/v1/rerank"
    #: Capabilities: ``/props``, the pooling and vector probes, ``/tokenize`` and token-id
    #: input, and normalisation done by the server (else here).
    has_props: ClassVar[bool] = False
    probes_pooling: ClassVar[bool] = False
    probes_vectors: ClassVar[bool] = False
    tokenizes: ClassVar[bool] = False
    takes_token_ids: ClassVar[bool] = False
    server_normalizes: ClassVar[bool] = False

    def base(self, endpoint: Endpoint) -> Endpoint:
        """The API base every route goes under, from the URL the user gave."""
        return endpoint

    def props(self, client: Client, url: str) -> dict[str, Any]:
        """What ``GET /props`` says of the server (empty where there is no such route)."""
        return {}

    def pooled_payload(self, inputs: list[Any], model: str, mode: int) -> dict[str, Any]:
        """The body of a request for pooled vectors, base64 float32 (smaller and exact)."""
        return {"input": inputs, "model": model, "encoding_format": "base64"}

    def parse_pooled(
        self, body: Any, n: int, dim: int, token_bound: int, mode: int
    ) -> tuple[np.ndarray, int]:
        """``(n, d)`` vectors and prompt tokens; raises :class:`~._answers.Malformed`."""
        return answers.parse_pooled(body, n, dim, token_bound)

    def finish(self, vectors: np.ndarray, mode: int) -> np.ndarray:
        """Apply what the server left undone to a call's stacked vectors."""
        return vectors

    def token_vectors_payload(self, inputs: list[Any]) -> dict[str, Any]:
        return {"input": inputs}

    def rerank_payload(self, query: str, documents: list[str]) -> dict[str, Any]:
        return {"query": query, "documents": documents, "top_n": len(documents)}

    def tokenize_payload(
        self, text: str, add_special: bool, parse_special: bool
    ) -> tuple[str, dict[str, Any]]:
        """The route and body of a tokenize request (only where :attr:`tokenizes`)."""
        raise NotImplementedError


class LlamaServer(Dialect):
    """llama.cpp's ``llama-server``: every endpoint, routes at the root."""

    name = "llama-server"
    models_path = "/v1/models"
    models_required = True
    embeddings_path = "/v1/embeddings"
    has_props = True
    probes_pooling = True
    probes_vectors = True
    tokenizes = True
    takes_token_ids = True
    server_normalizes = True

    def base(self, endpoint: Endpoint) -> Endpoint:
        # llama-server routes live at the root; accept a pasted .../v1 all the same.
        return endpoint.with_prefix(endpoint.prefix.removesuffix("/v1"))

    def props(self, client: Client, url: str) -> dict[str, Any]:
        props = client.call("GET", "/props", limit=answers.PROPS_LIMIT)
        if not isinstance(props, dict):
            raise RemoteError(
                f"GET /props at {url} did not answer a JSON object; is it a "
                "llama-server? For another server pass kind='openai'"
            )
        return props

    def pooled_payload(self, inputs: list[Any], model: str, mode: int) -> dict[str, Any]:
        return {**super().pooled_payload(inputs, model, mode), "embd_normalize": mode}

    def parse_pooled(
        self, body: Any, n: int, dim: int, token_bound: int, mode: int
    ) -> tuple[np.ndarray, int]:
        vectors, tokens = answers.parse_pooled(body, n, dim, token_bound)
        answers.check_normalized(vectors, mode)  # the server said it normalised: hold it to it
        return vectors, tokens

    def tokenize_payload(
        self, text: str, add_special: bool, parse_special: bool
    ) -> tuple[str, dict[str, Any]]:
        return "/tokenize", {
            "content": text,
            "add_special": bool(add_special),
            "parse_special": bool(parse_special),
        }


class OpenAICompatible(Dialect):
    """Any server with OpenAI's ``POST {base}/embeddings``; the base defaults to ``/v1``."""

    name = "openai"
    models_path = "/models"
    models_required = False
    embeddings_path = "/embeddings"

    def base(self, endpoint: Endpoint) -> Endpoint:
        return endpoint if endpoint.prefix else endpoint.with_prefix("/v1")

    def finish(self, vectors: np.ndarray, mode: int) -> np.ndarray:
        return vectors if mode == -1 else normalize_vectors(vectors, mode)


#: The dialects by the ``kind=`` that selects them.
DIALECTS: dict[str, Dialect] = {d.name: d for d in (LlamaServer(), OpenAICompatible())}
KINDS = tuple(DIALECTS)


def dialect_for(kind: object) -> Dialect:
    """The dialect for ``kind``; KeyError for an unknown one (the caller words the error)."""
    if not isinstance(kind, str):
        raise KeyError(kind)
    return DIALECTS[kind]
