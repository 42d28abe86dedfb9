"""The entry points: what counts as an image or a sound, decoding one, its thumbnail."""

from __future__ import annotations

import io
from pathlib import PurePath

import numpy as np

from ..errors import InvalidInputError
from ._audio import _audio, _audio_from_bytes, _waveform_png
from ._images import _image, _image_from_bytes, _is_pil_image, _pillow
from ._sources import _bytes_of, _caption, _looks_like_audio
from ._types import Audio, Image, Media, _short


def is_media(item: object) -> bool:
    """True for what :func:`decode_media` reads as an image or a sound.

    That is :class:`Image`, :class:`Audio`, :class:`Media`, a :class:`pathlib.PurePath`, a PIL
    image, ``bytes``/``bytearray``/``memoryview``, or a numpy array with 2 or 3 dimensions. A
    plain ``str`` is always a text, never a path: wrap a path in ``Path(...)`` or ``Image(...)``.
    """
    if isinstance(item, str):
        return False
    if isinstance(item, Image | Audio | Media | PurePath | bytes | bytearray | memoryview):
        return True
    if isinstance(item, np.ndarray):  # an array of strings is texts, of any shape
        return item.ndim in (2, 3) and item.dtype.kind not in "OUS"
    return _is_pil_image(item)


def decode_media(item: object, index: int = 0) -> Media:
    """Check and decode one image or sound; a :class:`Media` is returned as it is.

    Args:
        item: Anything :func:`is_media` accepts.
        index: The item's position among the inputs, named in errors.

    Raises:
        InvalidInputError: the item is missing, unreadable, too large, of an unsupported format
            or type; the one-line message names the input and says what to do.
    """
    if isinstance(item, Media):
        return item
    if isinstance(item, Image):
        return _image(item.source, _caption(item.text, index), index)
    if isinstance(item, Audio):
        return _audio(item.source, _caption(item.text, index), item.sample_rate, index)
    if isinstance(item, str):
        raise InvalidInputError(
            f"input {index} is a str, which is always a text; for a file pass "
            f"pathlib.Path({_short(item)!r}) or embed_nb.Image({_short(item)!r})"
        )
    if isinstance(item, PurePath | bytes | bytearray | memoryview):
        data, where, name = _bytes_of(item, index)
        if _looks_like_audio(data):
            return _audio_from_bytes(data, where, name, "", None)
        return _image_from_bytes(data, where, name, "")
    if isinstance(item, np.ndarray) and item.ndim not in (2, 3):
        raise InvalidInputError(
            f"input {index} is a {item.ndim}-D array; an image is a uint8 array of shape (h, w), "
            "(h, w, 3) or (h, w, 4); pass samples as embed_nb.Audio(a, sample_rate=16000)"
        )
    if isinstance(item, np.ndarray) or _is_pil_image(item):
        return _image(item, "", index)
    raise InvalidInputError(
        f"input {index} is a {type(item).__name__}, not an image or a sound; pass a "
        "pathlib.Path, the file's bytes, a PIL image, a uint8 array, embed_nb.Image(...) or "
        "embed_nb.Audio(...)"
    )


def thumbnail(media: Media, max_side: int = 128) -> bytes:
    """A small picture for the views: a JPEG of an image, a PNG of a sound's waveform.

    An image keeps its aspect ratio and is never enlarged (its longer side is at most
    ``max_side``); a waveform is ``max_side`` wide and half as high, drawn with numpy.
    """
    if isinstance(max_side, bool) or not isinstance(max_side, int) or not 1 <= max_side <= 4096:
        raise InvalidInputError(f"max_side must be an int from 1 to 4096, not {max_side!r}")
    if media.kind == "audio":
        return _waveform_png(media.data, max_side)
    pil = _pillow(f"thumbnail of {media.label}")
    picture = pil.fromarray(media.data)
    picture.thumbnail((max_side, max_side), pil.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=80)
    return out.getvalue()
