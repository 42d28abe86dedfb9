"""The content address of one text's vector: a hash of everything that decides it."""

from __future__ import annotations

import hashlib

from .request import EmbedRequest

__all__ = ["cache_key"]

# Part of every key: bumping it would orphan every cached vector, so it only changes when the
# meaning of a key does (not when the storage layout does).
_KEY_VERSION = 1


def cache_key(
    fingerprint: str,
    pooling: str,
    request: EmbedRequest | int,
    text: str,
    *,
    max_tokens: int | None = None,
    truncate: bool = False,
    chunk: bool = False,
) -> str:
    """The content address of one text's vector under one model and request.

    Args:
        fingerprint: the model file's fingerprint.
        pooling: the model's pooling.
        request: the :class:`EmbedRequest` as the model runs it (see
            :meth:`EmbedRequest.for_pooling`); a bare ``normalize`` int is the older form,
            with ``truncate`` and ``chunk`` as keywords.
        text: the text.
        max_tokens: the model's context; it enters the key only when the request truncates or
            chunks (it decides where a long text is cut or windowed, and nothing else).
    """
    if not isinstance(request, EmbedRequest):
        request = EmbedRequest(normalize=request, truncate=truncate, chunk=chunk)
    head = f"v{_KEY_VERSION}\x1f{fingerprint}\x1f{pooling}\x1f{request.key_part(max_tokens)}"
    digest = hashlib.blake2b(head.encode(), digest_size=20)
    digest.update(b"\x1e")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
