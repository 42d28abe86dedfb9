"""Labels on the ProjectionView map: where each category's label goes and what it says.

The kernel computes one anchor per category (the median of its points in the current layout,
robust to a few strays) with its size; the front end places them greedily, largest first,
dropping any that would overlap one already placed, so that zooming out shows fewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["MAX_LABEL_CHARS", "UNLABELLED", "check_custom_labels", "label_anchors", "label_text"]

MAX_LABEL_CHARS = 60
# Categories that are not a group worth naming on the map.
UNLABELLED = frozenset({"other", "noise", "missing"})
_CLUSTER_PREFIX = re.compile(r"^\d+: ")


def label_text(name: str) -> str:
    """A category's name as the map shows it: keywords without the "3: " cluster prefix."""
    text = _CLUSTER_PREFIX.sub("", name).strip()
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _custom_for(code: int, name: str, custom: Mapping[Any, str]) -> str | None:
    for key in (name, code, str(code)):
        if key in custom:
            return custom[key]
    return None


def label_anchors(
    codes: np.ndarray,
    names: Sequence[str],
    layout: np.ndarray,
    custom: Mapping[Any, str] | None = None,
) -> list[dict[str, Any]]:
    """One ``{"text", "x", "y", "n", "key"}`` per category with points (largest first).

    ``codes`` are category indices into ``names``; ``custom`` maps a category name or index
    to the text to show instead. "other", "noise" and "missing" get no label unless
    ``custom`` names them.
    """
    custom = custom or {}
    codes = np.asarray(codes, dtype=np.int64)
    if not len(codes) or not len(names):
        return []
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    anchors: list[dict[str, Any]] = []
    for start, end in zip(starts, ends, strict=True):
        code = int(sorted_codes[start])
        if code < 0 or code >= len(names):
            continue
        name = str(names[code])
        text = _custom_for(code, name, custom)
        if text is None:
            if name in UNLABELLED:
                continue
            text = label_text(name)
        members = layout[order[start:end]]
        x, y = np.nanmedian(members, axis=0)
        if not (np.isfinite(x) and np.isfinite(y)) or not text:
            continue
        anchors.append(
            {"text": text, "x": float(x), "y": float(y), "n": int(end - start), "key": name}
        )
    anchors.sort(key=lambda a: -a["n"])
    return anchors


def check_custom_labels(labels: Any, known: Iterable[Any]) -> dict[Any, str]:
    """Custom labels as ``{category name or cluster id: text}``; keys that name no category
    are refused, all of them named in one line."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidInputError(
            f"cluster_labels must be a dict {{cluster id or category name: text}}, "
            f"not {type(labels).__name__}"
        )
    allowed = {k for k in known}
    cleaned: dict[Any, str] = {}
    unknown = []
    for key, text in labels.items():
        norm = int(key) if isinstance(key, np.integer) else key
        if not isinstance(text, str):
            raise InvalidInputError(
                f"cluster_labels[{key!r}] must be a str, not {type(text).__name__}"
            )
        if norm not in allowed:
            unknown.append(norm)
            continue
        cleaned[norm] = text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise InvalidInputError(
            f"cluster_labels names clusters that do not exist: {shown}; use a cluster id "
            "(0, 1, …) or a category name as the legend shows it"
        )
    return cleaned
