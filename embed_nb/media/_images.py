"""Images decoded by Pillow after their size and format are checked: any mode to RGB pixels."""

from __future__ import annotations

import io
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError
from . import _limits
from ._limits import IMAGE_FORMATS
from ._sources import _bytes_of
from ._types import _INSTALL, Media, _digest, _label, _short

if TYPE_CHECKING:
    from types import ModuleType


_READ = "PNG, JPEG, GIF, BMP, WEBP or TIFF"

# Magic numbers, to name a format in an error when Pillow will not (or may not) open it.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"<svg", "SVG"),
    (b"8BPS", "PSD"),
)


def _image(source: object, caption: str, index: int) -> Media:
    if isinstance(source, np.ndarray):
        return _image_from_array(source, f"input {index}", caption)
    if _is_pil_image(source):
        return _image_from_pil(source, f"input {index}", caption)
    if isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        data, where, name = _bytes_of(source, index)
        return _image_from_bytes(data, where, name, caption)
    raise InvalidInputError(
        f"input {index}: an Image's source is a {type(source).__name__}; pass a path, the "
        "file's bytes, a PIL image or a uint8 array"
    )


def _image_from_bytes(data: bytes, where: str, name: str, caption: str) -> Media:
    """Open the header with only the allowed decoders, check the size, then decode."""
    pil = _pillow(where)
    with warnings.catch_warnings():
        # Pillow's own bomb limit (Image.MAX_IMAGE_PIXELS, which users may lower) is an error
        # in this call only, not a warning printed after the memory is spent.
        warnings.simplefilter("error", pil.DecompressionBombWarning)
        try:
            picture = pil.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
        except pil.UnidentifiedImageError:
            raise _not_an_image(data, where, pil) from None
        except (pil.DecompressionBombError, pil.DecompressionBombWarning) as error:
            raise _bomb(where, error) from None
        except Exception as error:  # a damaged header: whatever the parser raised
            raise _unreadable(where, _sniff(data), error) from None
        with picture:
            _check_pixels(picture.size, where)
            pixels = _decoded(picture, where)
    return _image_media(pixels, caption, name or _size_label(pixels))


def _image_from_pil(picture: Any, where: str, caption: str) -> Media:
    """A PIL image the caller made; it is read, never changed (every step makes a copy)."""
    pil = _pillow(where)
    _check_pixels(picture.size, where)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pil.DecompressionBombWarning)
        pixels = _decoded(picture, where)
    name = os.path.basename(getattr(picture, "filename", "") or "")
    return _image_media(pixels, caption, name or _size_label(pixels))


def _decoded(picture: Any, where: str) -> np.ndarray:
    """Decode the pixels (the first frame), turned upright and converted to RGB."""
    try:
        picture.load()
        return _to_rgb(picture)
    except MemoryError:
        raise InvalidInputError(f"{where} is too large to decode in the memory left") from None
    except Exception as error:  # truncated or corrupt data: decoders raise many kinds
        raise _unreadable(where, picture.format or "", error) from None


def _to_rgb(picture: Any) -> np.ndarray:
    """``(h, w, 3)`` uint8: 16-bit and float greys scaled (not clipped) to 8 bits, transparent
    pixels composited onto white, palettes and CMYK converted."""
    from PIL import ImageOps

    try:
        picture = ImageOps.exif_transpose(picture)
    except Exception:  # a damaged EXIF block: keep the pixels as stored
        picture = picture.copy()
    mode = picture.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(picture)
        grey = _float_to_8bit(values) if mode == "F" else _int_to_8bit(values)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode in ("RGBA", "RGBa", "LA", "La", "PA", "P") or "transparency" in picture.info:
        return _over_white(np.asarray(picture.convert("RGBA")))
    if mode != "RGB":
        picture = picture.convert("RGB")
    return np.array(picture, dtype=np.uint8)


def _int_to_8bit(values: np.ndarray) -> np.ndarray:
    """16-bit samples divided by 257 (65535 → 255); any other range stretched to 0-255."""
    wide = values.astype(np.int64)
    low, high = int(wide.min()), int(wide.max())
    if low >= 0 and high <= 65535:
        return ((wide + 128) // 257).astype(np.uint8)
    return _stretch(wide.astype(np.float64), low, high)


def _float_to_8bit(values: np.ndarray) -> np.ndarray:
    """Float greys: [0, 1] and [0, 255] read as such, any other range stretched; NaN is 0."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(finite.min()), float(finite.max())
    if low >= 0.0 and high <= 1.0:
        return np.round(finite * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.round(finite).astype(np.uint8)
    return _stretch(finite, low, high)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA composited onto a white background, rounded."""
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    colour = rgba[:, :, :3].astype(np.uint16)
    return ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _image_from_array(array: np.ndarray, where: str, caption: str) -> Media:
    if array.dtype != np.uint8:
        raise InvalidInputError(f"{where} is a {array.dtype} array; {_uint8_hint(array)}")
    shape = array.shape
    if not (array.ndim == 2 or (array.ndim == 3 and shape[2] in (1, 3, 4))):
        raise InvalidInputError(
            f"{where} is an array of shape {shape}; an image is (h, w), (h, w, 3) RGB or "
            "(h, w, 4) RGBA"
        )
    if array.size == 0:
        raise InvalidInputError(f"{where} is an empty array of shape {shape}; pass some pixels")
    _check_pixels((shape[1], shape[0]), where)
    if array.ndim == 2 or shape[2] == 1:
        grey = array.reshape(shape[0], shape[1])
        pixels = np.repeat(grey[:, :, None], 3, axis=2)
    elif shape[2] == 4:
        pixels = _over_white(array)
    else:
        pixels = np.array(array, dtype=np.uint8, order="C")  # a copy the caller cannot change
    return _image_media(pixels, caption, _size_label(pixels))


def _uint8_hint(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "f":
        return (
            "images must be uint8 (0-255): if its values are in [0, 1], pass "
            "(a * 255).astype(np.uint8)"
        )
    if kind == "b":
        return "images must be uint8 (0-255): pass a.astype(np.uint8) * 255"
    if array.dtype == np.uint16:
        return "images must be uint8 (0-255): for 16-bit pixels pass (a // 257).astype(np.uint8)"
    if kind in "iu":
        return "images must be uint8 (0-255): if its values are 0-255, pass a.astype(np.uint8)"
    return "an image must be a uint8 array of pixels"


def _check_pixels(size: tuple[int, int], where: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidInputError(f"{where} has no pixels ({width}×{height}); pass another image")
    if width * height > _limits.MAX_IMAGE_PIXELS:
        raise InvalidInputError(
            f"{where} is {width}×{height} pixels ({width * height / 1e6:,.0f} million), more "
            f"than the {_limits.MAX_IMAGE_PIXELS / 1e6:g} million embed_nb decodes (a guard "
            "against decompression bombs); scale it down first"
        )


def _image_media(pixels: np.ndarray, caption: str, name: str) -> Media:
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    pixels.flags.writeable = False  # the digest must stay true to the data
    return Media(
        kind="image",
        data=pixels,
        caption=caption,
        label=_label(name, caption),
        digest=_digest("image", pixels, None),
    )


def _size_label(pixels: np.ndarray) -> str:
    return f"image {pixels.shape[1]}×{pixels.shape[0]}"


def _not_an_image(data: bytes, where: str, pil: ModuleType) -> InvalidInputError:
    """Pillow's allowed decoders all refused the header: name the format when we can."""
    found = _sniff(data)
    if found in IMAGE_FORMATS:  # a known format whose header is damaged
        return _unreadable(where, found, "its header is damaged")
    if not found:
        try:  # any of Pillow's parsers may name it; only the header is read, nothing decoded
            with pil.open(io.BytesIO(data)) as probe:
                found = probe.format or ""
        except Exception:
            found = ""
    if found:
        return InvalidInputError(
            f"{where} is in {found} format, which embed_nb does not decode; convert it to PNG or "
            f"JPEG (it reads {_READ})"
        )
    head = data[:512]
    if b"\x00" not in head and head.decode("utf-8", "ignore").strip():
        try:
            head.decode("utf-8")
            return InvalidInputError(
                f"{where} holds text, not an image; pass an image file ({_READ}), or "
                "decode text bytes first: data.decode('utf-8')"
            )
        except UnicodeDecodeError:
            pass
    return InvalidInputError(
        f"{where} is not a readable image (unknown format); pass a {_READ} file"
    )


def _sniff(data: bytes) -> str:
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return ""


def _unreadable(where: str, found: str, error: object) -> InvalidInputError:
    detail = str(error) or type(error).__name__
    return InvalidInputError(
        f"{where} is not a readable image ({found or 'unknown format'}): {_short(detail)}; "
        "check the file, or open and re-save it as PNG"
    )


def _bomb(where: str, error: Exception) -> InvalidInputError:
    return InvalidInputError(
        f"{where} is refused as a possible decompression bomb: {_short(str(error))}; "
        "scale it down first"
    )


def _pillow(where: str) -> ModuleType:
    try:
        from PIL import Image as pil
    except ImportError:
        raise InvalidInputError(f"{where}: images need Pillow: {_INSTALL}") from None
    return pil


def _is_pil_image(item: object) -> bool:
    """A PIL image, without importing PIL (none can exist unless it was imported)."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(item, module.Image)
