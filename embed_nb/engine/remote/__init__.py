"""The remote backend: a llama-server, or any server that speaks OpenAI's embeddings.

:class:`RemoteModel` is the public face; the parts are private modules, one job each:

- ``_endpoint``: the server URL, checked and split;
- ``_http``: the transport (keep-alive connections, retries, the whole-request deadline,
  capped reads; injectable with ``RemoteModel(url, transport=...)``); ``_wire`` holds its
  socket-level pieces;
- ``_secret``: where an API key may be sent, and scrubbing it out of every shown text;
- ``_dialect``: what llama-server and OpenAI-compatible servers speak (routes, payloads,
  parsers, capabilities);
- ``_discovery``: what the server is, as a frozen :class:`~._discovery.ServerRecord`;
- ``_answers``: what an answer must be, and how large it can be;
- ``_requests`` and ``_batching``: one request of each sort, and a call split into many;
- ``_media``: images and audio for a llama-server started with ``--mmproj``;
- ``model``: :class:`RemoteModel` on top.
"""

from __future__ import annotations

from ._dialect import KINDS, Dialect, LlamaServer, OpenAICompatible
from ._discovery import PROBE_TEXT, ServerRecord
from ._endpoint import Endpoint
from ._http import (
    CONNECTION_ERRORS,
    RETRY_STATUSES,
    HTTPTransport,
    Reply,
    RetryPolicy,
    Transport,
    TransportFactory,
    server_message,
)
from ._secret import API_KEY_ENV, HOSTS_ENV, Secret, resolve_api_key
from .model import RemoteModel

__all__ = [
    "API_KEY_ENV",
    "CONNECTION_ERRORS",
    "HOSTS_ENV",
    "KINDS",
    "PROBE_TEXT",
    "RETRY_STATUSES",
    "Dialect",
    "Endpoint",
    "HTTPTransport",
    "LlamaServer",
    "OpenAICompatible",
    "RemoteModel",
    "Reply",
    "RetryPolicy",
    "Secret",
    "ServerRecord",
    "Transport",
    "TransportFactory",
    "resolve_api_key",
    "server_message",
]
