"""The record every documentation corpus hands out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DocKind = Literal["module", "class", "function", "method", "topic"]


@dataclass(frozen=True, slots=True)
class DocEntry:
    """One documented object and its docstring.

    Attributes:
        name: Qualified name, e.g. ``"json.decoder.JSONDecoder.decode"``. For a pydoc topic,
            the topic name, e.g. ``"assert"``.
        kind: ``"module"``, ``"class"``, ``"function"``, ``"method"`` or ``"topic"``.
        module: The module that defines it, e.g. ``"json.decoder"``.
        package: The colour label: the top-level package (``"json"``), or ``"topic"`` for a
            pydoc topic.
        text: The docstring, cleaned with :func:`inspect.cleandoc`; never empty.
    """

    name: str
    kind: DocKind
    module: str
    package: str
    text: str
