"""Thumbnails of image (and audio) points, made in the kernel and sent as binary on demand.

The browser never fetches a URL for a picture: it asks the kernel for the few thumbnails it
shows (the hovered point, the hits of a query, the points visible when zoomed in) with a
``thumbs`` request, and the kernel answers with one small JPEG (images) or PNG (audio
waveforms) per point as a raw comm buffer. The view therefore works offline, from a remote
kernel and in an exported notebook whose kernel is gone (it then shows dots).

Decoding is lazy: an image given as a path is read only when its thumbnail is first asked
for, and the decoded pixels are dropped once the thumbnail is made; only the thumbnail bytes
are kept (in a bounded LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EmbedNbError, InvalidInputError
from ..thumbnails import thumbnail_mime

__all__ = ["MAX_THUMBS_PER_REQUEST", "THUMBNAIL_SIDE", "ThumbnailSource"]

#: Longest side of a thumbnail, in pixels (the view draws them at most this big).
THUMBNAIL_SIDE = 96
#: The most thumbnails one request may ask for: a reply stays a few hundred kB.
MAX_THUMBS_PER_REQUEST = 64
#: Thumbnail bytes kept per view before the least recently used are dropped.
CACHE_BYTES = 32 * 1024 * 1024


class ThumbnailSource:
    """The images of a view's points, and the thumbnails made from them.

    Args:
        images: one entry per point: anything :func:`embed_nb.media.decode_media` takes, or
            None for a point that is a text.
        n: the number of points.
    """

    def __init__(self, images: Sequence[Any] | None, n: int) -> None:
        self._items: list[Any] = _checked_images(images, n)
        self._n = n
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._failed: dict[int, str] = {}
        self.made = 0  # thumbnails made (not served from the cache): tests read it

    @property
    def mask(self) -> np.ndarray | None:
        """uint8 per point, 1 where the point has an image; None when none has."""
        mask = np.array([item is not None for item in self._items], dtype=np.uint8)
        return mask if mask.any() else None

    def has_image(self, index: int) -> bool:
        return 0 <= index < self._n and self._items[index] is not None

    def thumbnail(self, index: int) -> bytes | None:
        """Point ``index``'s thumbnail (JPEG, or PNG for audio), or None for a text point."""
        if not 0 <= index < self._n:
            raise InvalidInputError(
                f"point {index} is out of range: the view has {self._n} points (0..{self._n - 1})"
            )
        item = self._items[index]
        if item is None:
            return None
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        if index in self._failed:
            raise InvalidInputError(self._failed[index])
        from .. import media

        try:
            data = media.thumbnail(media.decode_media(item, index), max_side=THUMBNAIL_SIDE)
        except EmbedNbError as error:
            self._failed[index] = f"point {index}: {error}"
            raise InvalidInputError(self._failed[index]) from None
        self.made += 1
        self._remember(index, data)
        return data

    def on_request(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        """Answer a ``thumbs`` request: ``{"ids": [...]}`` -> one buffer per id with an image.

        The reply's ``types`` has one entry per id: the MIME type of the next buffer, or ``""``
        for a point without an image (no buffer). A point whose image cannot be read gets
        ``""`` and a line in ``errors``; an index outside the view refuses the whole request.
        """
        raw = content.get("ids", [])
        if not isinstance(raw, list):
            raise InvalidInputError("thumbs: ids must be a list of point indices")
        ids: list[int] = []
        for value in raw[:MAX_THUMBS_PER_REQUEST]:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"thumbs: {value!r} is not a point index")
            index = int(value)
            if index != value or not 0 <= index < self._n:
                raise InvalidInputError(
                    f"thumbs: point {value!r} is out of range for {self._n} points"
                )
            ids.append(index)
        types: list[str] = []
        buffers: list[bytes] = []
        errors: dict[str, str] = {}
        for index in ids:
            try:
                data = self.thumbnail(index)
            except InvalidInputError as error:
                data, errors[str(index)] = None, str(error)
            if data is None:
                types.append("")
            else:
                types.append(thumbnail_mime(data))
                buffers.append(data)
        reply: dict[str, Any] = {"ids": ids, "types": types}
        if errors:
            reply["errors"] = errors
        return reply, buffers

    def _remember(self, index: int, data: bytes) -> None:
        self._cache[index] = data
        self._cached_bytes += len(data)
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped)


def _checked_images(images: Sequence[Any] | None, n: int) -> list[Any]:
    """One entry per point (None for a text point), each something that names an image."""
    if images is None:
        return [None] * n
    if isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
        raise InvalidInputError(
            f"images must be a list with one image (or None) per point, not {type(images).__name__}"
        )
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)  # a stack of (h, w, 3) pictures
    if len(images) != n:
        raise InvalidInputError(
            f"{len(images)} images for {n} points: pass one image (or None) per point"
        )
    from ..media import is_media

    items = list(images)
    for index, item in enumerate(items):
        if item is not None and not is_media(item):
            raise InvalidInputError(
                f"images[{index}] is a {type(item).__name__}, not an image: pass a "
                "pathlib.Path, bytes, a PIL image, an (h, w, 3) uint8 array or None"
            )
    return items
