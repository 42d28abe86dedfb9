"""The one pooling type: llama.cpp's ``enum llama_pooling_type``, by name and by number.

Every place that names a pooling reads it from here: the engine (``LocalModel``'s option and
what a context reports), the GGUF checks, the converter, the remote backend (which adds
``"pooled"``: a server pools, but does not say how), the magics and the CLI. It imports
nothing heavy, so the magics' parsers can use it at ``%load_ext``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from .errors import InvalidInputError

__all__ = [
    "POOLED",
    "POOLINGS",
    "POOLING_NAMES",
    "POOLING_RANGE",
    "POOLING_TYPES",
    "REMOTE_POOLINGS",
    "Pooling",
    "PoolingName",
    "pooling_type",
]


class Pooling(IntEnum):
    """llama.cpp's ``enum llama_pooling_type`` (``UNSPECIFIED`` = -1, the model's own, aside)."""

    NONE = 0
    MEAN = 1
    CLS = 2
    LAST = 3
    RANK = 4

    @property
    def label(self) -> str:
        """The name users type: ``"mean"``."""
        return self.name.lower()


#: A pooling as users name it.
PoolingName = Literal["none", "mean", "cls", "last", "rank"]
#: name -> llama.cpp's enum value, in enum order.
POOLING_TYPES: dict[str, int] = {p.label: int(p) for p in Pooling}
#: llama.cpp's enum value -> name.
POOLING_NAMES: dict[int, str] = {int(p): p.label for p in Pooling}
#: The names, in enum order: the choices of ``--pooling``.
POOLINGS: tuple[str, ...] = tuple(POOLING_TYPES)
#: The values a GGUF's ``<arch>.pooling_type`` may hold.
POOLING_RANGE = range(min(Pooling), max(Pooling) + 1)
#: A server's pooling when it pools but does not say which (mean, cls or last).
POOLED = "pooled"
#: What a remote model's ``pooling`` may be.
REMOTE_POOLINGS: tuple[str, ...] = (*POOLINGS, POOLED)


def pooling_type(name: str) -> int:
    """llama.cpp's pooling enum for a name such as ``"mean"``; a clear error for anything else."""
    try:
        return POOLING_TYPES[str(name).lower()]
    except KeyError:
        raise InvalidInputError(
            f"unknown pooling {name!r}; use one of {', '.join(POOLINGS)}"
        ) from None
