"""One request of each sort, sent in a dialect and checked before anything is returned.

Each function sends one request through a :class:`~._client.Client`, parses the answer with
the dialect, and turns a :class:`~._answers.Malformed` answer into one clear
:class:`~embed_nb.errors.RemoteError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _answers as answers
from ._client import Client
from ._dialect import Dialect

__all__ = ["pooled", "rerank", "token_bound", "token_vectors", "tokenize"]


def token_bound(ctx: int, n: int) -> int:
    """Most prompt tokens ``n`` inputs can have: the server's context each (0: not known)."""
    return n * (ctx or answers.MAX_CTX)


def pooled(
    client: Client,
    dialect: Dialect,
    model: str,
    inputs: list[Any],
    mode: int,
    dim: int,
    ctx: int,
    on_dim: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Pooled vectors ``(n, d)`` and prompt tokens.

    Args:
        dim: the dimension the answer must have (0: not known; then ``on_dim`` is told the
            one it has, and may refuse it by raising :class:`~._answers.Malformed`).
    """
    payload = dialect.pooled_payload(inputs, model, mode)
    limit = answers.pooled_limit(len(inputs), dim)
    body = client.call("POST", dialect.embeddings_path, payload, limit=limit)
    try:
        vectors, tokens = dialect.parse_pooled(
            body, len(inputs), dim, token_bound(ctx, len(inputs)), mode
        )
        if dim == 0 and on_dim is not None:
            on_dim(vectors.shape[1])
    except answers.Malformed as error:
        raise client.malformed("embeddings", error) from None
    return vectors, tokens


def token_vectors(
    client: Client, dialect: Dialect, inputs: list[Any], dim: int, ctx: int
) -> list[np.ndarray]:
    """One ``(n_tokens, d)`` array per input (pooling ``none``)."""
    limit = answers.token_vectors_limit(len(inputs), ctx, dim)
    path = dialect.token_vectors_path
    body = client.call("POST", path, dialect.token_vectors_payload(inputs), limit=limit)
    try:
        return answers.parse_token_vectors(body, len(inputs), dim, ctx)
    except answers.Malformed as error:
        raise client.malformed("embeddings", error) from None


def rerank(
    client: Client, dialect: Dialect, query: str, documents: list[str], ctx: int
) -> tuple[np.ndarray, int]:
    """One raw relevance score per document, in document order, and the prompt tokens."""
    body = client.call(
        "POST",
        dialect.rerank_path,
        dialect.rerank_payload(query, documents),
        limit=answers.rerank_limit([query, *documents]),
    )
    try:
        return answers.parse_rerank(body, len(documents), token_bound(ctx, len(documents)))
    except answers.Malformed as error:
        raise client.malformed("rerank", error) from None


def tokenize(
    client: Client,
    dialect: Dialect,
    text: str,
    add_special: bool,
    parse_special: bool,
    n_vocab: int,
) -> list[int]:
    """Token ids of ``text`` (each in the vocabulary when its size is known)."""
    path, payload = dialect.tokenize_payload(text, add_special, parse_special)
    body = client.call("POST", path, payload, limit=answers.tokenize_limit(text))
    bound = len(text.encode("utf-8", "surrogatepass")) + 16
    try:
        return answers.parse_tokens(body, n_vocab, bound)
    except answers.Malformed as error:
        raise client.malformed("tokenize", error) from None
