"""What each view's exported page (``to_html``) answers without a kernel.

Each function returns the view's ``_offline_data()``: the texts, typed ``tables``, and the
recipes ``js/src/standalone.js`` runs for a request (``requests``) or for a trait the view
saves that the kernel would react to (``reactions``). Whatever needs the model (a search, a
rerank) gets a message that says it needs the kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..thumbnails import thumbnail_mime
from ..vectors import nearest_rows
from ._base import OFFLINE_TEXT_CHARS, clip_text

__all__ = ["projection_offline", "rerank_offline", "similarity_offline"]

# Neighbours are precomputed for every point up to this many points (n² dot products), and
# this many per point; past it a click says that neighbours need the kernel.
OFFLINE_NEIGHBOR_POINTS = 20_000
OFFLINE_K = 10
# Thumbnails kept in the page: at most this many, and this many bytes in all.
OFFLINE_MAX_THUMBS = 2_000
OFFLINE_THUMB_BYTES = 4_000_000
# Exact float32 matrix scores up to this many rows (4 bytes a cell); past it, the page turns
# the uint8 colour codes back into scores (within 1/255 of the colour range).
OFFLINE_EXACT_ROWS = 700
# The selection table's frame cells kept in the page, at most (as text).
OFFLINE_TABLE_CELLS = 200_000
# Texts in all an exported page keeps (characters): past OFFLINE_TEXT_BUDGET / 600 points,
# each text is cut shorter (down to OFFLINE_MIN_TEXT_CHARS), so that 100k points of real
# docstrings stay under 8 MB (base64 of gzip costs about 1/3 of a byte per character).
OFFLINE_TEXT_BUDGET = 30_000_000
OFFLINE_MIN_TEXT_CHARS = 200
EXPORTED = "this is an exported page (to_html); run the notebook"


def needs_kernel(what: str) -> str:
    return f"{what} need the kernel: {EXPORTED}"


def text_limit(n: int) -> int:
    """How many characters of each of ``n`` texts an exported page keeps."""
    share = OFFLINE_TEXT_BUDGET // max(n, 1)
    return max(OFFLINE_MIN_TEXT_CHARS, min(OFFLINE_TEXT_CHARS, share))


def clipped_texts(texts: Any, keep: Any = None) -> list[str]:
    """Every text cut to what a tooltip shows; ``""`` for indices not in ``keep``."""
    wanted = None if keep is None else {int(i) for i in keep}
    limit = text_limit(len(texts) if wanted is None else len(wanted))
    return [
        clip_text(str(text), limit) if wanted is None or i in wanted else ""
        for i, text in enumerate(texts)
    ]


def projection_offline(view: Any) -> dict[str, Any]:
    """Hover texts, neighbours of every point (when cheap), thumbnails of image points."""
    n = int(view._n_points)
    tables: dict[str, np.ndarray] = {}
    reactions: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    k = min(int(view.k), OFFLINE_K, n - 1)
    if 2 <= n <= OFFLINE_NEIGHBOR_POINTS and k >= 1:
        ids, scores = nearest_rows(np.asarray(view._unit, np.float32), k)
        tables["neighbor_ids"], tables["neighbor_scores"] = ids.reshape(-1), scores.reshape(-1)
        # Scores before ids: the view redraws its list when `neighbors` changes.
        reactions["focused"] = {
            "type": "rows",
            "width": k,
            "tables": {"neighbor_scores": "neighbor_scores", "neighbors": "neighbor_ids"},
        }
    else:
        reactions["focused"] = {
            "type": "message",
            "set": {"status": needs_kernel("neighbours")},
            "clear": {"status": ""},
        }
    reactions["query"] = {
        "type": "message",
        "set": {"query_error": needs_kernel("searches")},
        "clear": {"query_error": ""},
    }
    # Recolouring and a new k are computed in the kernel: keep what was exported.
    for trait, what in (("k", "other neighbour counts"), ("color_by", "other colourings")):
        reactions[trait] = {"type": "revert", "set": {"status": needs_kernel(what)}}
    requests["table_rows"] = _table_rows(view)
    thumbs = view._thumbs
    if thumbs.mask is not None:
        kept, chunks, types, total = [], [], [], 0
        for index in np.flatnonzero(thumbs.mask)[:OFFLINE_MAX_THUMBS]:
            data = view.thumbnail(int(index))
            if not data or total + len(data) > OFFLINE_THUMB_BYTES:
                continue
            kept.append(int(index))
            chunks.append(data)
            types.append(thumbnail_mime(data))
            total += len(data)
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.uint32)
        tables["thumb_ids"] = np.asarray(kept, np.uint32)
        tables["thumb_offsets"] = offsets
        tables["thumb_bytes"] = np.frombuffer(b"".join(chunks), np.uint8)
        requests["thumbs"] = {
            "type": "thumbs",
            "ids": "thumb_ids",
            "offsets": "thumb_offsets",
            "bytes": "thumb_bytes",
            "types": types,
        }
    return {
        "texts": clipped_texts(view._texts),
        "tables": tables,
        "requests": requests,
        "reactions": reactions,
    }


def _table_rows(view: Any) -> dict[str, Any]:
    """The selection table's rows in the page: the points' labels (None: their positions) and,
    for a frame of at most OFFLINE_TABLE_CELLS cells, its shown columns as text, so that the
    table lists, sorts and pages a selection without the kernel (by index and text always)."""
    import pandas as pd

    from ._selection import cell_text

    index = view._row_index()
    labels = None if isinstance(index, pd.RangeIndex) else [cell_text(x) for x in index]
    frame, keys = view._table_frame, view._table_keys
    cells = None
    if frame is not None and keys and len(frame) * len(keys) <= OFFLINE_TABLE_CELLS:
        block = frame[keys].itertuples(index=False)
        cells = [[cell_text(value) for value in row] for row in block]
    return {"type": "table_rows", "labels": labels, "cells": cells}


def similarity_offline(matrix: Any) -> dict[str, Any]:
    """Texts of the shown rows, and the cells' scores (exact up to OFFLINE_EXACT_ROWS rows)."""
    shown = np.asarray(matrix.shown, np.uint32)
    tables: dict[str, np.ndarray] = {"shown": shown}
    cell: dict[str, Any] = {
        "type": "matrix_cell",
        "size": "size",
        "shown": "shown",
        "values": "values",
        "scores": None,
    }
    from . import similarity  # its row list's length, where it defines one

    count = int(getattr(similarity, "SIMILAR_COUNT", 5))
    if len(shown) <= OFFLINE_EXACT_ROWS:
        tables["scores"] = np.asarray(matrix.scores, np.float32).reshape(-1)
        cell["scores"] = "scores"
    return {
        "texts": clipped_texts(matrix._texts, keep=shown),
        "tables": tables,
        "requests": {"cell": cell, "similar": {**cell, "type": "matrix_similar", "count": count}},
        "reactions": {},
    }


def rerank_offline(view: Any) -> dict[str, Any]:
    """The documents; the exported ranking stays, a new query says it needs the kernel."""
    return {
        "texts": clipped_texts(view._texts),
        "reactions": {
            "query": {
                "type": "message",
                "set": {"error": needs_kernel("new rankings")},
                "clear": {"error": ""},
            }
        },
    }
