"""What a server is: asked once, when a remote model is made, and kept as a frozen record.

The order of requests is fixed (a llama-server: ``GET /props``, ``GET /v1/models``, two pooling
probes it refuses before any decode, then one embedding of :data:`PROBE_TEXT`), so the same
server always gives the same record and fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import InvalidInputError, RemoteError
from ..info import ModelInfo
from . import _answers as answers
from . import _requests as requests
from ._client import Client
from ._dialect import Dialect
from ._endpoint import Endpoint
from ._http import server_message
from ._options import MAX_ID, NAME_LIMIT, POOLED, POOLINGS

__all__ = [
    "POOLED",
    "POOLINGS",
    "PROBE_TEXT",
    "Opaque",
    "ServerRecord",
    "describe",
    "discover",
    "fingerprint",
]

# What the fingerprint probe embeds: fixed, so that the same server always gives the same hash.
PROBE_TEXT = "embed_nb fingerprint probe: the quick brown fox"


class Opaque:
    """A server-supplied string sent back as is but never shown (it may hold anything)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<as the server gave it>"


@dataclass(frozen=True)
class ServerRecord:
    """What discovery learned of a server (sizes are 0 where it did not say)."""

    wire_model: Opaque  # the model id to send back, as the server gave it
    model_id: str  # the same, scrubbed and on one line, for showing
    n_embd: int  # 0: learned from the first answer, then held to
    n_ctx: int
    n_vocab: int
    slots: int
    pooling: str
    probe: str  # a digest of the probe text's vector ("" when not probed)
    model_path: str | None
    build: str | None
    props: dict[str, Any] = field(repr=False)
    meta: dict[str, Any] = field(repr=False)


def discover(
    client: Client, dialect: Dialect, url: str, model: str | None, pooling: str | None
) -> ServerRecord:
    """Ask the server what it serves: model, sizes, slots and pooling.

    Raises:
        InvalidInputError: the server lists several models (or none) and none was named.
        RemoteError: the server cannot be reached or does not describe itself as it should.
    """
    props = dialect.props(client, url)
    listed = _list_models(client, dialect)
    meta = listed[0].get("meta") if len(listed) == 1 else None
    meta = meta if isinstance(meta, dict) else {}
    if model is None:
        if len(listed) != 1:
            raise InvalidInputError(
                f"{url} serves {len(listed) or 'no listed'} models; pass model=..."
            )
        model = listed[0].get("id")
        if not isinstance(model, str) or not model.strip() or len(model) > MAX_ID:
            raise RemoteError(f"{url} lists its model without a usable id; pass model=... by hand")
    slots = answers.int_field(props, "total_slots", 1, 1 << 16) or 1
    found = _probe_pooling(client, dialect, url, pooling)
    settings = props.get("default_generation_settings")
    n_ctx = (
        answers.int_field(meta, "n_ctx", 1, answers.MAX_CTX)
        or answers.int_field(settings, "n_ctx", 1, answers.MAX_CTX)
        or 0
    )
    wire = Opaque(model)
    probe = ""
    if found == "rank":
        n_embd = 1
    elif dialect.probes_vectors:
        # What the server really returns: its dimension (llama.cpp's n_embd_out, which
        # /v1/models does not report) and a digest that tells its pooling apart.
        n_embd, probe = _probe_vectors(client, dialect, wire.value, found, n_ctx)
    else:
        n_embd = answers.int_field(meta, "n_embd", 1, answers.MAX_DIM) or 0
    return ServerRecord(
        wire_model=wire,
        # The id goes back to the server as is; what is shown is scrubbed and on one line.
        model_id=client.scrubber.clean(model, NAME_LIMIT),
        n_embd=n_embd,
        n_ctx=n_ctx,
        n_vocab=answers.int_field(meta, "n_vocab", 1, 1 << 31) or 0,
        slots=slots,
        pooling=found,
        probe=probe,
        model_path=answers.str_field(props, "model_path"),
        build=answers.str_field(props, "build_info"),
        props=props,
        meta=meta,
    )


def _list_models(client: Client, dialect: Dialect) -> list[dict[str, Any]]:
    try:
        body = client.call("GET", dialect.models_path, limit=answers.MODELS_LIMIT)
    except RemoteError as error:
        # Auth and connection failures must surface now; a missing /models may not.
        if dialect.models_required or error.status is None or error.status in (401, 403):
            raise
        return []
    data = body.get("data") if isinstance(body, dict) else None
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def _probe_pooling(client: Client, dialect: Dialect, url: str, label: str | None) -> str:
    """none / rank / pooled, from two requests the server refuses before any decode."""
    if not dialect.probes_pooling:
        return label or POOLED
    limit = answers.PROBE_LIMIT
    status, data = client.probe(dialect.rerank_path, {"query": "", "documents": []}, limit=limit)
    if status == 400:  # rerank is on; only the empty document list was refused
        return "rank"
    status, data = client.probe(dialect.embeddings_path, {"input": []}, limit=limit)
    message = server_message(data)
    if "not OAI compatible" in message:
        return "none"
    if "does not support embeddings" in message:
        raise RemoteError(
            f"{url} does not serve embeddings: {client.transport.server_message(data)}",
            status=status,
        )
    return label if label not in (None, "none", "rank") else POOLED


def _probe_vectors(
    client: Client, dialect: Dialect, model: str, pooling: str, ctx: int
) -> tuple[int, str]:
    """Embed a fixed text once: the dimension the server returns, and a digest of it."""
    if pooling == "none":
        arrays = requests.token_vectors(client, dialect, [PROBE_TEXT], 0, ctx)
        vector = arrays[0].mean(axis=0)
    else:
        vectors, _ = requests.pooled(client, dialect, model, [PROBE_TEXT], 2, 0, ctx)
        vector = vectors[0]
    dim = int(vector.shape[0])
    # Coarse, so that the same server gives the same digest even if its rounding moves
    # (a moved digest costs a cache miss, never a wrong vector); mean, cls and last
    # pooling differ far more than one step.
    norm = float(np.linalg.norm(vector)) or 1.0
    z = vector[:32] / norm * math.sqrt(dim)
    steps = np.clip(np.floor(z / 0.5), -127, 127).astype(np.int8)
    return dim, hashlib.sha256(steps.tobytes()).hexdigest()[:16]


def fingerprint(record: ServerRecord, endpoint: Endpoint, kind: str, n_embd: int) -> str:
    """A cache key for what this server computes: where it is, what it serves, how it pools.

    Two servers never share one (the endpoint is part of it), nor does one server
    restarted with another pooling (the probe digest tells them apart).
    """
    ep = endpoint
    meta = record.meta
    facts = {
        "v": 2,
        "kind": kind,
        "endpoint": f"{ep.scheme}://{ep.host}:{ep.port}{ep.prefix}",
        "model": record.wire_model.value,
        "path": record.model_path or "",
        "pooling": record.pooling if record.pooling in ("none", "rank") else POOLED,
        "probe": record.probe,
        "n_embd": n_embd,
        **{k: answers.int_field(meta, k, 0, 1 << 62) for k in ("n_vocab", "n_params", "size")},
        "ftype": answers.str_field(meta, "ftype"),
    }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return "remote-" + digest[:16]


def describe(
    record: ServerRecord, client: Client, *, name: str, url: str, kind: str, max_tokens: int
) -> tuple[str, ModelInfo]:
    """The fingerprint and :class:`ModelInfo` of a discovered server; shown text is scrubbed."""
    clean = client.scrubber.clean
    meta, props = record.meta, record.props
    print_ = fingerprint(record, client.transport.endpoint, kind, record.n_embd)
    info = ModelInfo(
        name=name,
        path=url,
        architecture=clean(answers.str_field(meta, "vocab_type") or "unknown", 40),
        description=f"{kind} model {record.model_id!r}"
        + (f" from {clean(record.model_path, NAME_LIMIT)}" if record.model_path else ""),
        n_embd=record.n_embd,
        n_ctx_train=answers.int_field(meta, "n_ctx_train", 1, answers.MAX_CTX) or 0,
        n_ctx=record.n_ctx,
        pooling=record.pooling,
        vocab_size=record.n_vocab,
        file_size=answers.int_field(meta, "size", 0, 1 << 50) or 0,
        quantization=clean(
            answers.str_field(meta, "ftype")
            or answers.str_field(props, "model_ftype")
            or "unknown",
            40,
        ),
        n_params=answers.int_field(meta, "n_params", 0, 1 << 50) or 0,
        backend=f"remote {kind}" + (f" ({clean(record.build, 80)})" if record.build else ""),
        devices=[url],
        n_threads=0,
        n_contexts=record.slots,
        flash_attn="unknown",
        n_ubatch=max_tokens,
        fingerprint=print_,
    )
    return print_, info
