"""Checks for the options a remote model takes: finite, bounded, of the right type.

Each bound is where a value stops being a choice and becomes a typo; some values beyond
them would overflow C timeouts or start a thread per unit.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from ...errors import InvalidInputError
from ._answers import MAX_CTX

__all__ = ["POOLED", "POOLINGS", "Options", "bounded_int", "optional_text", "seconds"]

POOLED = "pooled"  # the server pools (mean, cls or last): which one it does not say
POOLINGS = ("mean", "cls", "last", "none", "rank", POOLED)

MAX_SECONDS = 7 * 24 * 3600.0
MAX_RETRIES = 100
MAX_CONCURRENCY = 64
MAX_BATCH = 4096
MAX_ID = 4096  # characters of a model id sent back to the server
NAME_LIMIT = 200  # characters of a server-supplied name or path that is shown


def seconds(name: str, value: object, *, positive: bool) -> float:
    """A finite number of seconds, > 0 (or >= 0), at most a week."""
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int beyond any float
            number = float(value)
    ok = math.isfinite(number) and (number > 0 if positive else number >= 0)
    ok = ok and number <= MAX_SECONDS
    if not ok:
        sign = "positive" if positive else "non-negative"
        raise InvalidInputError(
            f"{name} must be a {sign} number of seconds, at most {MAX_SECONDS:g}"
        )
    return number


def bounded_int(name: str, value: object, lo: int, hi: int) -> int:
    """An int (not a bool) from ``lo`` to ``hi``; the message shows only short numbers."""
    if type(value) is not int or not lo <= value <= hi:
        shown = (
            repr(value)
            if type(value) in (int, float, bool) and len(repr(value)) < 30
            else (f"a {type(value).__name__}")
        )
        raise InvalidInputError(f"{name} must be an integer from {lo} to {hi}, not {shown}")
    return value


def optional_text(name: str, value: object, limit: int) -> str | None:
    """None, or a non-blank str of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInputError(f"{name} must be a non-empty str of at most {limit} characters")
    return value


@dataclass(frozen=True)
class Options:
    """A remote model's options, checked (see :class:`~.model.RemoteModel` for each)."""

    timeout: float
    connect_timeout: float
    backoff: float
    retries: int
    batch_size: int
    concurrency: int | None
    max_tokens: int | None
    pooling: str | None
    model: str | None
    name: str | None
    allow_insecure: bool

    @classmethod
    def check(
        cls,
        *,
        timeout: object,
        connect_timeout: object,
        backoff: object,
        retries: object,
        batch_size: object,
        concurrency: object,
        max_tokens: object,
        pooling: object,
        model: object,
        name: object,
        allow_insecure: object,
    ) -> Options:
        """Check every option in a fixed order: the first bad one is the one reported.

        Raises:
            InvalidInputError: an option of the wrong type or out of its range.
        """
        checked_timeout = seconds("timeout", timeout, positive=True)
        checked_connect = seconds("connect_timeout", connect_timeout, positive=True)
        checked_backoff = seconds("backoff", backoff, positive=False)
        checked_retries = bounded_int("retries", retries, 0, MAX_RETRIES)
        checked_batch = bounded_int("batch_size", batch_size, 1, MAX_BATCH)
        if concurrency is not None:
            concurrency = bounded_int("concurrency", concurrency, 1, MAX_CONCURRENCY)
        if max_tokens is not None:
            max_tokens = bounded_int("max_tokens", max_tokens, 1, MAX_CTX)
        if pooling is not None and (not isinstance(pooling, str) or pooling not in POOLINGS):
            raise InvalidInputError("pooling must be mean, cls, last, none or rank")
        checked_model = optional_text("model", model, MAX_ID)
        checked_name = optional_text("name", name, NAME_LIMIT)
        if type(allow_insecure) is not bool:
            raise InvalidInputError("allow_insecure must be True or False")
        return cls(
            timeout=checked_timeout,
            connect_timeout=checked_connect,
            backoff=checked_backoff,
            retries=checked_retries,
            batch_size=checked_batch,
            concurrency=concurrency,
            max_tokens=max_tokens,
            pooling=pooling,
            model=checked_model,
            name=checked_name,
            allow_insecure=allow_insecure,
        )
