"""Checking what users pass in, and fitting token sequences to the context.

Nothing here reaches llama.cpp: bad input is turned into a clear :class:`InvalidInputError`
before any native call can see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..errors import InputTooLongError, InvalidInputError


def as_text_list(texts: object, what: str = "texts") -> tuple[list[str], bool]:
    """Turn a str or an iterable of str into a list; the flag says a single str was given."""
    if isinstance(texts, str):
        return [texts], True
    if _is_dataframe(texts):
        # Iterating a DataFrame gives its column names: never what was meant.
        raise InvalidInputError(
            f"{what} is a DataFrame; pick a column: df['text'] (or embed_nb.embed(df, "
            "column='text'))"
        )
    # A mapping would iterate its keys (llama-server refuses {"content": ...} objects too); a
    # set has no order, so its vectors could not be matched back to its texts.
    if isinstance(texts, bytes | bytearray | Mapping | Set) or not isinstance(texts, Iterable):
        hint = (
            "; decode bytes first, e.g. data.decode('utf-8')"
            if isinstance(texts, bytes | bytearray)
            else ""
        )
        if isinstance(texts, Set):
            hint = "; a set has no order: pass sorted(texts) or a list"
        raise InvalidInputError(
            f"{what} must be a str or a list of str, not {type(texts).__name__}{hint}"
        )
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise InvalidInputError(f"{what} must be 1-D, not an array of shape {texts.shape}")
    return checked_texts(texts, what), False


def _is_dataframe(value: object) -> bool:
    """A pandas (or pandas-like: polars, modin) DataFrame, without importing pandas."""
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def checked_texts(texts: Iterable[object], what: str = "texts") -> list[str]:
    """The items as a list, refusing an empty one and anything that is not a str (with a hint
    for the missing values a pandas column brings: None and NaN)."""
    items = list(texts)
    if not items:
        raise InvalidInputError(f"{what} is empty: pass at least one text")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            missing = item is None or (isinstance(item, float) and item != item)
            hint = (
                " (a missing value); drop or fill those first, e.g. series.dropna()"
                if missing
                else ", not str; convert it first, e.g. str(x)"
            )
            raise InvalidInputError(f"{what}[{i}] is {type(item).__name__}{hint}")
    return cast("list[str]", items)  # each item was checked above


def as_input_list(inputs: object, what: str = "texts") -> tuple[list[Any], bool]:
    """Like :func:`as_text_list`, with images and audio allowed beside the texts: each
    decoded and checked (see :mod:`embed_nb.media`); the flag says a single input was given."""
    from ..media import decode_media, is_media

    if is_media(inputs):
        return [decode_media(inputs, 0)], True
    if isinstance(inputs, str):
        return [inputs], True
    if isinstance(inputs, list | tuple) and any(is_media(item) for item in inputs):
        return checked_inputs(inputs, what), False
    return as_text_list(inputs, what)


def checked_inputs(inputs: Iterable[object], what: str = "texts") -> list[Any]:
    """The items as a list: texts kept, images and audio decoded (:class:`~embed_nb.media.Media`),
    anything else refused as :func:`checked_texts` does."""
    from ..media import decode_media, is_media

    items = list(inputs)
    decoded = {i: decode_media(item, i) for i, item in enumerate(items) if is_media(item)}
    texts = checked_texts(("" if i in decoded else item for i, item in enumerate(items)), what)
    return [decoded.get(i, text) for i, text in enumerate(texts)]


def utf8(text: str, index: int) -> bytes:
    """The UTF-8 bytes llama.cpp tokenises; lone surrogates (not valid Unicode) are an error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInputError(
            f"text {index} holds a lone surrogate {text[error.start]!r} at position {error.start}, "
            "which is not valid Unicode; clean it, e.g. "
            "text.encode('utf-8', 'replace').decode()"
        ) from None


@dataclass(frozen=True)
class Framing:
    """How many special tokens the vocab puts before and after every text (e.g. CLS ... SEP)."""

    n_prefix: int
    n_suffix: int

    @property
    def n_special(self) -> int:
        return self.n_prefix + self.n_suffix


def fit_to_limit(
    tokens: np.ndarray,
    limit: int,
    framing: Framing,
    *,
    index: int,
    truncate: bool,
    chunk: bool,
) -> list[np.ndarray]:
    """Return the token sequences to embed for one text: itself, a truncation, or windows.

    Truncation keeps the leading special tokens and the closing ones (EOS/SEP), as
    llama.cpp's own tokenisers would frame a shorter text. Chunks are windows over the
    text's own tokens, each framed the same way, overlapping by a quarter window.
    """
    if len(tokens) <= limit:
        return [tokens]
    if not (truncate or chunk):
        raise InputTooLongError(index, len(tokens), limit)
    room = limit - framing.n_special
    if room < 1:
        raise InvalidInputError(f"a context of {limit} tokens leaves no room for text")
    head = tokens[: framing.n_prefix]
    tail = tokens[len(tokens) - framing.n_suffix :]
    body = tokens[framing.n_prefix : len(tokens) - framing.n_suffix]
    if truncate:
        return [np.concatenate([head, body[:room], tail])]
    stride = max(1, room - room // 4)
    starts = range(0, max(len(body) - room, 0) + stride, stride)
    return [np.concatenate([head, body[s : s + room], tail]) for s in starts if s < len(body)]


def check_top_n(top_n: object) -> int | None:
    """``top_n`` for a rerank: None (keep all) or a non-negative int."""
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 0):
        raise InvalidInputError(f"top_n must be a non-negative integer or None, not {top_n!r}")
    return top_n


def rerank_inputs(query: object, documents: object, top_n: object) -> list[str]:
    """Check a rerank call's arguments as llama-server's ``/v1/rerank`` does; the documents."""
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a str, not {type(query).__name__}")
    docs, single = as_text_list(documents, "documents")
    if single:
        raise InvalidInputError("documents must be a list of str; wrap a single one in [...]")
    check_top_n(top_n)
    utf8(query, 0)
    for i, doc in enumerate(docs):
        utf8(doc, i)
    return docs


def token_id_lists(sequences: object, n_vocab: int | None = None) -> list[np.ndarray]:
    """Check token id input (a non-empty list of non-empty int lists) before llama.cpp sees it.

    With ``n_vocab`` every id must be in ``0..n_vocab-1``; without it (a remote model, whose
    server checks its own vocabulary) only negative ids are refused.
    """
    if isinstance(sequences, str | bytes) or not isinstance(sequences, Sequence) or not sequences:
        raise InvalidInputError("sequences must be a non-empty list of token id lists")
    arrays = []
    for index, ids in enumerate(sequences):
        if isinstance(ids, str | bytes) or not isinstance(ids, Sequence | np.ndarray):
            raise InvalidInputError(f"sequence {index} must be a list of token ids")
        if len(ids) == 0:
            raise InvalidInputError(f"sequence {index} is empty")
        if not all(isinstance(t, int | np.integer) and not isinstance(t, bool) for t in ids):
            raise InvalidInputError(f"sequence {index} holds something that is not an integer id")
        array = np.asarray(ids, dtype=np.int64)
        upper = n_vocab if n_vocab is not None else np.iinfo(np.int32).max + 1
        bad = array[(array < 0) | (array >= upper)]
        if len(bad):
            where = f"this model's vocabulary (0..{n_vocab - 1})" if n_vocab else "the int32 range"
            raise InvalidInputError(
                f"sequence {index} holds token id {int(bad[0])}, outside {where}"
            )
        arrays.append(array.astype(np.int32))
    return arrays
