"""The API's embedding job: plan (keys, cache hits, dedupe) -> run (parts) -> assemble.

Long jobs run in parts of ``part`` texts (the API passes :data:`embed_nb.api.JOB_PART`), each
cached as soon as it is done, so an interrupt keeps the finished parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .cache import EmbeddingCache, Entry, cache_key
from .dims import check_dim_for, truncate_dim
from .engine.protocol import EmbeddingModel
from .errors import EmbedNbError, InputTooLongError, InvalidInputError
from .progress import Progress, ProgressArg
from .prompts import model_prompts
from .request import EmbedRequest
from .results import Embeddings

__all__ = ["JOB_PART", "PartDone", "PartFailed", "PartRunner", "embed_job", "run_in_kernel"]

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
    items: list[Any],
    request: EmbedRequest,
    *,
    store: EmbeddingCache | None,
    progress: ProgressArg = None,
    single: bool = False,
    index: Any = None,
    part: int = JOB_PART,
    cluster: Any = None,
) -> Embeddings:
    """Embed ``items`` (texts, and decoded images and audio: :class:`~embed_nb.media.Media`)
    with ``model`` through ``store`` (None: no cache), in parts of ``part``, in the kernel or
    (``cluster``: a Dask client, cluster or address) on a Dask cluster.

    Raises:
        KeyboardInterrupt: between decodes; parts already done stay in the cache (the
            exception carries a note saying how many) and the model stays usable.
    """
    request = request.for_pooling(model.pooling)
    # The model's suffix (a Qwen3 EOS its file does not add) goes with every text it embeds.
    request = replace(request, suffix=model_prompts(model).suffix)
    check_dim_for(request.dim, name=model.name, pooling=model.pooling, n_embd=model.n_embd)
    if cluster is not None and not all(isinstance(item, str) for item in items):
        raise InvalidInputError(
            "cluster= takes texts only: embed images and audio in the kernel or on a server"
        )
    runner = _runner(model, cluster)
    plan = _plan(model, items, request, store)
    # Parts of ``part`` texts where each is cached (or sent to a worker) as it finishes;
    # without either, one engine call does it fastest.
    size = part if store is not None or cluster is not None else max(len(plan.todo), 1)
    computed = _run(runner, items, request, plan.todo, store, progress, size)

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


def _runner(model: EmbeddingModel, cluster: Any) -> PartRunner:
    if cluster is None:
        return run_in_kernel(model)
    from .distributed import cluster_runner  # late: Dask is an optional extra

    return cluster_runner(model, cluster)


def _plan(
    model: EmbeddingModel, items: list[Any], request: EmbedRequest, store: EmbeddingCache | None
) -> _Plan:
    limit = getattr(model, "max_tokens", None)
    # An image's key holds its pixels' digest, its caption and the projector's fingerprint.
    projector = getattr(model, "media_fingerprint", "")
    keys = [
        cache_key(
            model.fingerprint,
            model.pooling,
            request,
            item if isinstance(item, str) else f"{item.key_text}\x00{projector}",
            max_tokens=limit,
        )
        for item in items
    ]
    # dim: a row of the right size but another shape is a miss, not a wrong vector.
    size = request.dim or getattr(model, "n_embd", 0) or None
    found = store.get_many(keys, dim=size) if store else {}
    first_position: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key not in found:
            first_position.setdefault(key, position)
    todo = sorted(first_position.items(), key=lambda kv: _length(items[kv[1]]))
    return _Plan(keys, found, todo)


@dataclass
class PartDone:
    """One finished part of a job: a vector (or per-token matrix) and a token count per text."""

    number: int
    rows: np.ndarray | Sequence[np.ndarray]
    token_counts: list[int]


class PartFailed(Exception):
    """A part of a job failed: ``cause`` is what to raise, ``position`` the text within the
    part it names (None: the cause numbers texts within the part itself, or names none)."""

    def __init__(self, number: int, cause: BaseException, position: int | None = None) -> None:
        super().__init__(number, cause, position)
        self.number, self.cause, self.position = number, cause, position


#: Runs a job's parts (lists of texts) and yields each as it finishes, in any order; a
#: failure is raised as :class:`PartFailed`. The in-kernel runner is :func:`run_in_kernel`;
#: :mod:`embed_nb.distributed` has the cluster's.
PartRunner = Callable[[list[list[str]], EmbedRequest, Progress], Generator[PartDone]]


def run_in_kernel(model: EmbeddingModel) -> PartRunner:
    """Parts one after the other on ``model``, in the kernel."""

    def run(parts: list[list[str]], request: EmbedRequest, bar: Progress) -> Generator[PartDone]:
        options = request.options()
        offset = 0
        for number, texts in enumerate(parts):
            try:
                result = model.embed(texts, progress=bar.callback(offset, len(texts)), **options)
            except InvalidInputError as error:
                raise PartFailed(number, error) from None
            rows = result.vectors if result.vectors is not None else result.token_vectors
            assert rows is not None
            yield PartDone(number, rows, list(result.token_counts))
            offset += len(texts)

    return run


def _run(
    runner: PartRunner,
    items: list[Any],
    request: EmbedRequest,
    todo: list[tuple[str, int]],
    store: EmbeddingCache | None,
    progress: ProgressArg,
    size: int,
) -> dict[str, tuple[np.ndarray, int]]:
    """The distinct missing texts in parts of ``size`` (fixed boundaries, whatever runs them),
    each part cached as soon as it is done."""
    computed: dict[str, tuple[np.ndarray, int]] = {}
    batches = [todo[start : start + size] for start in range(0, len(todo), size)]
    # The prompt goes on here, before any runner (a cluster's too), on the texts sent only;
    # keys stay the user's texts.
    before, after = request.prompt, request.suffix
    parts = [
        [_framed(items[position], before, after) for _, position in batch] for batch in batches
    ]
    with Progress(len(todo), progress) as bar:
        try:
            with closing(runner(parts, request, bar)) as gathered:  # closed on an interrupt too
                for done in gathered:
                    batch = batches[done.number]
                    if request.dim is not None:  # Matryoshka: cut, then normalise again
                        done.rows = truncate_dim(done.rows, request.dim, request.normalize)
                    new = [
                        (key, done.rows[k], done.token_counts[k])
                        for k, (key, _) in enumerate(batch)
                    ]
                    computed.update((key, (vector, n)) for key, vector, n in new)
                    if store is not None:
                        store.put_many(new)
                    bar.update(len(computed))
        except KeyboardInterrupt as interrupt:
            finished = len(computed)
            interrupt.add_note(
                f"embed_nb: interrupted after {finished:,} of {len(todo):,} texts to embed; "
                "those are cached, so running it again continues from there"
                if store is not None and finished
                else f"embed_nb: interrupted before any of {len(todo):,} texts was done"
            )
            raise
        except PartFailed as failed:
            positions = [position for _, position in batches[failed.number]]
            raise _renumbered(failed, positions) from None
    return computed


def _length(item: Any) -> int:
    """How long an input is, for packing texts of similar length (an image by its caption)."""
    return len(item) if isinstance(item, str) else len(item.caption)


def _framed(item: Any, before: str, after: str) -> Any:
    """A text with the prompt before it and the suffix after; an image or clip carries them
    for the engine, which puts them around the media marker and the caption."""
    if isinstance(item, str):
        return before + item + after
    return replace(item, prompt=before, suffix=after)


_TEXT_NUMBER = re.compile(r"\b(text|input) (\d+)\b")


def _renumbered(failed: PartFailed, positions: list[int]) -> BaseException:
    """The engine numbers texts within one part of the job; say the user's numbers instead."""
    error = failed.cause
    if failed.position is not None and isinstance(error, EmbedNbError):
        return type(error)(f"input {positions[failed.position]}: {error}")
    if isinstance(error, InputTooLongError):
        return InputTooLongError(positions[error.index], error.n_tokens, error.limit)
    if type(error) is not InvalidInputError:
        return error

    def fix(match: re.Match[str]) -> str:
        number = int(match.group(2))
        return f"{match.group(1)} {positions[number] if number < len(positions) else number}"

    return InvalidInputError(_TEXT_NUMBER.sub(fix, str(error)))
