"""What a remote answer must be, checked field by field, and how large it can be.

Every answer is held to what the request asked and what the server said of itself: one result
per input, ``index`` values that are exactly ``0..n-1`` once each, vectors of the discovered
dimension made of finite numbers, token counts that are non-negative integers no larger than
the inputs can hold. Anything else raises :class:`Malformed`, which the model turns into a
one-line :class:`~embed_nb.errors.RemoteError`; nothing half-checked is returned (or cached).

Messages here name types, counts and positions, never the server's values, so they cannot
carry a key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "Malformed",
    "int_field",
    "pooled_limit",
    "rerank_limit",
    "str_field",
    "token_vectors_limit",
    "tokenize_limit",
]

#: Largest embedding size believed (the largest served models have 16k or less).
MAX_DIM = 1 << 16
#: Used for size caps while the dimension is not known yet.
ASSUMED_DIM = 16384
#: Used for size caps and token bounds while the server's context is not known.
ASSUMED_CTX = 1 << 15
#: Most tokens believed per input (llama.cpp contexts are int32; no server gets near).
MAX_CTX = 1 << 24
# Worst-case bytes of one float in JSON ("-1.2345678901234567e-05, " is 25) and of one
# result's fields around its vector; a fixed allowance covers the envelope.
_JSON_FLOAT = 32
_ITEM = 512
_HEADER = 64 * 1024
_NUMBER_TYPES = frozenset({int, float})
#: Caps for the discovery answers: small, they describe one model.
PROPS_LIMIT = 4 * 2**20
MODELS_LIMIT = 8 * 2**20
PROBE_LIMIT = 2**20


class Malformed(Exception):
    """An answer that is not what the request can get; the text says what is wrong."""


# --- size caps ----------------------------------------------------------------------------------


def pooled_limit(n: int, dim: int) -> int:
    """Bytes an answer of ``n`` pooled vectors can need (JSON floats, the larger encoding)."""
    return _HEADER + n * (_ITEM + (dim or ASSUMED_DIM) * _JSON_FLOAT)


def token_vectors_limit(n: int, ctx: int, dim: int) -> int:
    """Bytes an answer of ``n`` inputs' per-token vectors can need."""
    per_token = 8 + (dim or ASSUMED_DIM) * _JSON_FLOAT
    return _HEADER + n * (_ITEM + (ctx or ASSUMED_CTX) * per_token)


def rerank_limit(documents: list[str]) -> int:
    """Bytes a rerank answer can need (a server may echo the documents, JSON-escaped)."""
    text = sum(len(d.encode("utf-8", "surrogatepass")) for d in documents)
    return _HEADER + len(documents) * _ITEM + 6 * text


def tokenize_limit(text: str) -> int:
    """Bytes a ``/tokenize`` answer can need: at most a token per byte, plus specials."""
    return _HEADER + (len(text.encode("utf-8", "surrogatepass")) + 16) * 24


# --- fields -------------------------------------------------------------------------------------


def int_field(mapping: Any, key: str, lo: int, hi: int) -> int | None:
    """``mapping[key]`` when it is an int (not a bool) in ``lo..hi``; else None (ignored)."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    if type(value) is not int or not lo <= value <= hi:
        return None
    return value


def str_field(mapping: Any, key: str) -> str | None:
    """``mapping[key]`` when it is a non-empty str; else None (ignored)."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    return value if isinstance(value, str) and value.strip() else None


def usage_tokens(body: Mapping[str, Any], bound: int) -> int:
    """``usage.prompt_tokens``: absent means 0 (some APIs omit it); a wrong value is refused."""
    usage = body.get("usage")
    if usage is None:
        return 0
    if not isinstance(usage, Mapping):
        raise Malformed("usage is not an object")
    tokens = usage.get("prompt_tokens")
    if tokens is None:
        return 0
    if type(tokens) is not int or not 0 <= tokens <= bound:
        raise Malformed(f"usage.prompt_tokens is not an integer from 0 to {bound}")
    return tokens


def _ordered(items: Any, n: int, what: str) -> list[Mapping[str, Any]]:
    """``items`` put in ``index`` order, which must be exactly ``0..n-1``, once each."""
    if not isinstance(items, list):
        raise Malformed(f"{what} is not a list")
    if len(items) != n:
        raise Malformed(f"{len(items)} results for {n} inputs")
    slots: list[Mapping[str, Any] | None] = [None] * n
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise Malformed(f"result {position} is not an object")
        index = item.get("index")
        if type(index) is not int or not 0 <= index < n:
            raise Malformed(f"result {position} has no index from 0 to {n - 1}")
        if slots[index] is not None:
            raise Malformed(f"index {index} comes twice")
        slots[index] = item
    return [item for item in slots if item is not None]


# --- vectors ------------------------------------------------------------------------------------


def _numbers(values: Any, where: str) -> np.ndarray:
    """A flat JSON list of numbers (not bools, not strings) as finite float32."""
    if not isinstance(values, list) or not values:
        raise Malformed(f"{where} is not a non-empty list of numbers")
    if not _NUMBER_TYPES.issuperset(map(type, values)):
        raise Malformed(f"{where} holds something that is not a number")
    try:
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused by the caller
            array = np.asarray(values, dtype=np.float64).astype(np.float32)
    except (OverflowError, ValueError):
        raise Malformed(f"{where} holds a number out of range") from None
    return array


def _vector(value: Any, where: str) -> np.ndarray:
    """One pooled vector: base64 float32 (llama-server, OpenAI) or a JSON list of numbers."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed(f"{where} is not valid base64") from None
        if not raw or len(raw) % 4:
            raise Malformed(f"{where} is not a whole number of float32 values")
        vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        vector = _numbers(value, where)
    return vector


def _check_finite(array: np.ndarray, where: str) -> None:
    if not np.isfinite(array).all():
        raise Malformed(f"{where} holds NaN or infinity; the model or server is broken")


def check_dim(got: int, dim: int, where: str) -> None:
    """A vector of ``got`` values where the server said ``dim`` (0: not known yet)."""
    if not 1 <= got <= MAX_DIM:
        raise Malformed(f"{where} has {got} values; no embedding has that many")
    if dim and got != dim:
        raise Malformed(f"{where} has {got} values, but the server's embeddings have {dim}")


def parse_pooled(body: Any, n: int, dim: int, token_bound: int) -> tuple[np.ndarray, int]:
    """``/v1/embeddings``: ``(n, d)`` float32 in input order, and the prompt tokens.

    Args:
        dim: the dimension the server's embeddings have (0 when not known yet: then all
            vectors of this answer must agree).
    """
    if not isinstance(body, Mapping):
        raise Malformed("the answer is not an object")
    items = _ordered(body.get("data"), n, "data")
    vectors = [_vector(item.get("embedding"), f"embedding {i}") for i, item in enumerate(items)]
    expected = dim or len(vectors[0])
    for i, vector in enumerate(vectors):
        check_dim(len(vector), expected, f"embedding {i}")
    stacked = np.stack(vectors)
    _check_finite(stacked, "an embedding")
    return stacked, usage_tokens(body, token_bound)


def check_normalized(vectors: np.ndarray, mode: int) -> None:
    """Refuse vectors a server says it normalised with ``mode`` but did not.

    A normalised row is a fixed point of normalisation, so normalising again must leave it
    (nearly) unchanged; llama.cpp's float32 arithmetic is far inside the tolerance.
    """
    if mode == -1:
        return
    from ..normalize import normalize

    again = normalize(vectors.astype(np.float64), mode)
    scale = 32760.0 if mode == 0 else 1.0
    if not np.allclose(again, vectors, rtol=1e-3, atol=1e-4 * scale):
        raise Malformed(f"the vectors are not normalised as asked (embd_normalize={mode})")


def parse_token_vectors(body: Any, n: int, dim: int, ctx: int) -> list[np.ndarray]:
    """``/embeddings`` with pooling none: one ``(n_tokens, d)`` float32 array per input."""
    items = _ordered(body, n, "the answer")
    arrays: list[np.ndarray] = []
    for i, item in enumerate(items):
        rows = item.get("embedding")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise Malformed(f"embedding {i} is not a non-empty list of per-token vectors")
        if len(rows) > (ctx or MAX_CTX):
            raise Malformed(f"embedding {i} has {len(rows)} tokens, more than the context")
        array = np.stack([_numbers(row, f"embedding {i}, token {t}") for t, row in _rows(rows)])
        check_dim(array.shape[1], dim or (arrays[0].shape[1] if arrays else 0), f"embedding {i}")
        _check_finite(array, f"embedding {i}")
        arrays.append(array)
    return arrays


def _rows(rows: list[Any]) -> list[tuple[int, Any]]:
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise Malformed("per-token vectors of different lengths")
    return list(enumerate(rows))


def parse_rerank(body: Any, n: int, token_bound: int) -> tuple[np.ndarray, int]:
    """``/v1/rerank``: one finite score per document, in document order, and the tokens."""
    if not isinstance(body, Mapping):
        raise Malformed("the answer is not an object")
    items = _ordered(body.get("results"), n, "results")
    scores = []
    for i, item in enumerate(items):
        score = item.get("relevance_score")
        if type(score) not in _NUMBER_TYPES:
            raise Malformed(f"document {i} has no numeric relevance_score")
        scores.append(float(score))  # type: ignore[arg-type]
    array = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(array).all():
        raise Malformed("a relevance_score is NaN or infinity; the model or server is broken")
    return array, usage_tokens(body, token_bound)


def parse_tokens(body: Any, n_vocab: int, bound: int) -> list[int]:
    """``/tokenize``: token ids, each in the vocabulary (when its size is known)."""
    tokens = body.get("tokens") if isinstance(body, Mapping) else None
    if not isinstance(tokens, list):
        raise Malformed("tokens is not a list")
    if len(tokens) > bound:
        raise Malformed(f"{len(tokens)} tokens for a text that can have at most {bound}")
    top = n_vocab or 2**31
    if not all(type(t) is int and 0 <= t < top for t in tokens):
        raise Malformed(f"a token id is not an integer from 0 to {top - 1}")
    return list(tokens)
