"""Checks for the options a remote model takes: finite, bounded, of the right type.

Each bound is where a value stops being a choice and becomes a typo; some values beyond
them would overflow C timeouts or start a thread per unit.

:class:`RemoteOptions` is the one list of a server model's options: ``RemoteModel``'s
keywords, ``load_model``'s documentation and the front ends' flags derive from it.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInputError
from ...pooling import POOLED, REMOTE_POOLINGS
from ._answers import MAX_CTX
from ._dialect import KINDS

if TYPE_CHECKING:
    from ._secret import Secret

__all__ = [
    "POOLED",
    "POOLINGS",
    "Options",
    "RemoteOptions",
    "bounded_int",
    "optional_text",
    "seconds",
]

POOLINGS = REMOTE_POOLINGS  # the server pools (POOLED: mean, cls or last) or says none/rank

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


def _option(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class RemoteOptions:
    """A remote model's options, each checked when the value is made, in a fixed order (the
    first bad one is the one reported). See :class:`~.model.RemoteModel` for each.

    Raises:
        InvalidInputError: an option of the wrong type or out of its range.
    """

    kind: str = _option("llama-server", "llama-server or openai (an OpenAI-compatible API)")
    api_key: str | Secret | None = field(
        default=None,
        repr=False,
        metadata={"doc": "sent as Authorization: Bearer (default: from the environment)"},
    )
    model: str | None = _option(None, "the model name to send (default: the server's only one)")
    name: str | None = _option(None, "the display name (default: the model name)")
    timeout: float = _option(120.0, "seconds one request may take, retries included")
    connect_timeout: float = _option(10.0, "seconds to wait for a connection")
    retries: int = _option(4, "retries of a connection error or 503")
    backoff: float = _option(0.25, "the first retry's delay in seconds")
    concurrency: int | None = _option(None, "requests in flight (default: the server's slots)")
    batch_size: int = _option(32, "most texts per request")
    max_tokens: int | None = _option(None, "the longest input (the server still decides)")
    pooling: str | None = _option(None, "a label for the server's pooling (default: pooled)")
    allow_insecure: bool = _option(False, "send an API key over plain http to another host")
    query_prompt: str | None = _option(
        None, "text put before queries (default: the family's preset, '' for none)"
    )
    document_prompt: str | None = _option(
        None, "text put before documents (default: the family's preset, '' for none)"
    )

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}")
        checked: dict[str, Any] = {
            "timeout": seconds("timeout", self.timeout, positive=True),
            "connect_timeout": seconds("connect_timeout", self.connect_timeout, positive=True),
            "backoff": seconds("backoff", self.backoff, positive=False),
            "retries": bounded_int("retries", self.retries, 0, MAX_RETRIES),
            "batch_size": bounded_int("batch_size", self.batch_size, 1, MAX_BATCH),
        }
        if self.concurrency is not None:
            bounded_int("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        if self.max_tokens is not None:
            bounded_int("max_tokens", self.max_tokens, 1, MAX_CTX)
        if self.pooling is not None and (
            not isinstance(self.pooling, str) or self.pooling not in POOLINGS
        ):
            raise InvalidInputError("pooling must be mean, cls, last, none or rank")
        optional_text("model", self.model, MAX_ID)
        optional_text("name", self.name, NAME_LIMIT)
        if type(self.allow_insecure) is not bool:
            raise InvalidInputError("allow_insecure must be True or False")
        from ...prompts import checked_prompt_option

        checked_prompt_option("query_prompt", self.query_prompt)
        checked_prompt_option("document_prompt", self.document_prompt)
        for key, value in checked.items():  # ints given for seconds become floats
            object.__setattr__(self, key, value)

    @classmethod
    def check(cls, **options: Any) -> RemoteOptions:
        """The options, checked (the same as ``RemoteOptions(**options)``)."""
        return cls(**options)


#: The name this value had before it held every option.
Options = RemoteOptions
