"""Kernel-made thumbnails as data for views: their MIME type, and ``data:`` URIs for static HTML.

Static HTML (a search result's repr) embeds a thumbnail's bytes, so nothing is fetched when
it shows; the live widgets send the same bytes over the comm instead
(:mod:`embed_nb.widgets._thumbnails`).
"""

from __future__ import annotations

import base64
from typing import Any

from .errors import EmbedNbError

__all__ = ["thumbnail_data_uri", "thumbnail_mime"]


def thumbnail_mime(data: bytes) -> str:
    """``image/jpeg`` or ``image/png`` from a thumbnail's first bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return "application/octet-stream"


def thumbnail_data_uri(item: Any, max_side: int = 48) -> str | None:
    """A ``data:`` URI of an item's thumbnail (JPEG, PNG for audio), or None if it has none.

    ``item`` is anything :func:`embed_nb.media.decode_media` takes, or None. A picture that
    cannot be read gives None: a result is then shown as text, never as an error.
    """
    if item is None:
        return None
    from . import media

    try:
        data = media.thumbnail(media.decode_media(item), max_side=max_side)
    except EmbedNbError:
        return None
    return f"data:{thumbnail_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"
