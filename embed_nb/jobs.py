"""The API's embedding job: plan (keys, cache hits, dedupe) -> run (parts) -> assemble.

Long jobs run in parts of ``part`` texts (the API passes :data:`embed_nb.api.JOB_PART`), each
cached as soon as it is done, so an interrupt keeps the finished parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cache import EmbeddingCache, Entry, cache_key
from .engine.protocol import EmbeddingModel
from .errors import InputTooLongError, InvalidInputError
from .progress import Progress, ProgressArg
from .request import EmbedRequest
from .results import Embeddings

__all__ = ["JOB_PART", "embed_job"]

#: Texts per engine call in a long job; each part is cached as soon as it finishes.
JOB_PART = 256


@dataclass
class _Plan:
    """What a job must do: one key per text, what the cache has, and the distinct texts left
    to embed as ``(key, first position)``, shortest first (better packing)."""

    keys: list[str]
    found: dict[str, Entry]
    todo: list[tuple[str, int]]


def embed_job(
    model: EmbeddingModel,
    items: list[str],
    request: EmbedRequest,
    *,
    store: EmbeddingCache | None,
    progress: ProgressArg = None,
    single: bool = False,
    index: Any = None,
    part: int = JOB_PART,
) -> Embeddings:
    """Embed ``items`` with ``model`` through ``store`` (None: no cache), in parts of ``part``.

    Raises:
        KeyboardInterrupt: between decodes; parts already done stay in the cache (the
            exception carries a note saying how many) and the model stays usable.
    """
    request = request.for_pooling(model.pooling)
    plan = _plan(model, items, request, store)
    computed = _run(model, items, request, plan.todo, store, progress, part)

    def lookup(key: str) -> tuple[np.ndarray, int]:
        entry = plan.found.get(key)
        return (entry.vector, entry.n_tokens) if entry is not None else computed[key]

    pairs = [lookup(key) for key in plan.keys]
    extra: dict[str, Any] = {}
    if store is not None:
        extra["cache_hits"] = sum(1 for key in plan.keys if key in plan.found)
    if index is not None:
        extra["index"] = index
    return Embeddings.from_parts(
        model=model,
        request=request,
        texts=items,
        rows=[vector for vector, _ in pairs],
        token_counts=[n for _, n in pairs],
        single=single,
        extra=extra,
    )


def _plan(
    model: EmbeddingModel, items: list[str], request: EmbedRequest, store: EmbeddingCache | None
) -> _Plan:
    limit = getattr(model, "max_tokens", None)
    keys = [
        cache_key(model.fingerprint, model.pooling, request, text, max_tokens=limit)
        for text in items
    ]
    # dim: a row of the right size but another shape is a miss, not a wrong vector.
    found = store.get_many(keys, dim=getattr(model, "n_embd", 0) or None) if store else {}
    first_position: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key not in found:
            first_position.setdefault(key, position)
    todo = sorted(first_position.items(), key=lambda kv: len(items[kv[1]]))
    return _Plan(keys, found, todo)


def _run(
    model: EmbeddingModel,
    items: list[str],
    request: EmbedRequest,
    todo: list[tuple[str, int]],
    store: EmbeddingCache | None,
    progress: ProgressArg,
    part: int,
) -> dict[str, tuple[np.ndarray, int]]:
    """One engine call per part of the distinct missing texts, each part cached at once."""
    computed: dict[str, tuple[np.ndarray, int]] = {}
    size = part if store is not None else max(len(todo), 1)
    options = request.options()
    with Progress(len(todo), progress) as bar:
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            texts = [items[position] for _, position in batch]
            try:
                result = model.embed(texts, progress=bar.callback(start, len(batch)), **options)
            except KeyboardInterrupt as interrupt:
                interrupt.add_note(
                    f"embed_nb: interrupted after {start:,} of {len(todo):,} texts to embed; "
                    "those are cached, so running it again continues from there"
                    if store is not None and start
                    else f"embed_nb: interrupted before any of {len(todo):,} texts was done"
                )
                raise
            except InvalidInputError as error:
                raise _renumbered(error, [position for _, position in batch]) from None
            rows = result.vectors if result.vectors is not None else result.token_vectors
            assert rows is not None
            new = [(key, rows[k], result.token_counts[k]) for k, (key, _) in enumerate(batch)]
            computed.update((key, (vector, n)) for key, vector, n in new)
            if store is not None:
                store.put_many(new)
            bar.update(start + len(batch))
    return computed


_TEXT_NUMBER = re.compile(r"\b(text|input) (\d+)\b")


def _renumbered(error: InvalidInputError, positions: list[int]) -> InvalidInputError:
    """The engine numbers texts within one part of the job; say the user's numbers instead."""
    if isinstance(error, InputTooLongError):
        return InputTooLongError(positions[error.index], error.n_tokens, error.limit)
    if type(error) is not InvalidInputError:
        return error

    def fix(match: re.Match[str]) -> str:
        number = int(match.group(2))
        return f"{match.group(1)} {positions[number] if number < len(positions) else number}"

    return InvalidInputError(_TEXT_NUMBER.sub(fix, str(error)))
