"""A call split into requests sent at once, and its answers put back together.

The server decodes concurrent requests in parallel slots. A result is returned only when
every request of the call succeeded: the first error cancels what was not yet sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Answer", "Batch", "ProgressFn", "run", "split", "token_counts"]

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Batch:
    """One request's share of a call: the positions of its inputs in the call."""

    start: int
    stop: int


@dataclass(frozen=True)
class Answer:
    """One request's result: vectors (or per-token arrays, or scores) and its token usage."""

    batch: Batch
    values: list[np.ndarray]
    tokens: int


def split(n: int, batch_size: int, workers: int) -> list[Batch]:
    """Split n inputs into requests: enough to fill every worker, none over batch_size."""
    size = max(1, min(batch_size, math.ceil(n / workers)))
    return [Batch(start, min(start + size, n)) for start in range(0, n, size)]


def run(
    send: Callable[[Batch], Answer],
    batches: list[Batch],
    n: int,
    executor: Callable[[], Executor],
    progress: ProgressFn | None,
) -> list[Answer]:
    """Send every batch of a call of ``n`` inputs concurrently (on a pool ``executor()``
    gives); all answers in order, or the first error raised."""
    if len(batches) == 1:  # one request: no thread hop
        result = [send(batches[0])]
        if progress is not None:
            progress(n, n)
        return result
    pool = executor()
    futures = [pool.submit(send, batch) for batch in batches]
    try:
        _wait_all(futures, n, progress)
        return [f.result() for f in futures]
    finally:
        for future in futures:  # on an error or Ctrl-C, send nothing more
            future.cancel()


def _wait_all(futures: list[Future[Answer]], total: int, progress: ProgressFn | None) -> None:
    """Wait until every future is done or one failed (whose error then raises)."""
    pending: set[Future[Answer]] = set(futures)
    done_inputs = 0
    while pending:
        done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
            done_inputs += future.result().batch.stop - future.result().batch.start
        if done and progress is not None:
            progress(done_inputs, total)


def token_counts(answers: list[Answer], inputs: list[Any]) -> tuple[list[int], bool]:
    """Per-input token counts, and whether they are exact.

    A request reports only its total, so a request with one input (or per-token vectors, or
    token ids) gives exact counts; otherwise its exact total is shared out in proportion to
    each text's length (plus one for the special tokens), keeping the total exact.
    """
    counts: list[int] = []
    exact = True
    for answer in answers:
        part = inputs[answer.batch.start : answer.batch.stop]
        if answer.values and answer.values[0].ndim == 2:
            counts.extend(len(v) for v in answer.values)
        elif all(isinstance(p, list) for p in part):
            counts.extend(len(p) for p in part)
        elif len(part) == 1:
            counts.append(answer.tokens)
        else:
            counts.extend(_apportion(answer.tokens, [len(str(p).encode()) + 1 for p in part]))
            exact = False
    return counts, exact


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to ``weights`` that sum to ``total`` (largest remainder)."""
    share = np.asarray(weights, dtype=np.float64) * total / max(sum(weights), 1)
    base = np.floor(share).astype(int)
    for i in np.argsort(-(share - base), kind="stable")[: total - int(base.sum())]:
        base[i] += 1
    return [int(b) for b in base]
