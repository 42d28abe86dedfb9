"""Images and audio as inputs: what users pass, checked and decoded before llama.cpp sees it.

Users pass :class:`Image` or :class:`Audio` (or a bare path, bytes, PIL image or uint8 array)
beside their texts. :func:`decode_media` turns each into a :class:`Media`: plain RGB pixels or
mono float32 samples, a digest of them for the cache, and a short label for the views.

Untrusted bytes are decoded here, in Python, by Pillow (images) or by a small WAV reader or
soundfile (audio), after their size and format are checked: a file larger than
:data:`MAX_FILE_BYTES`, an image with more than :data:`MAX_IMAGE_PIXELS` pixels (checked from its
header, before any pixel is decoded) or audio longer than :data:`MAX_AUDIO_SECONDS` is refused.
llama.cpp then only ever gets raw pixels or samples, or a PNG/WAV written by
:mod:`embed_nb.media_codecs`. Every refusal is a one-line :class:`InvalidInputError` that names the
input and says what to do.

Pillow and soundfile are the optional extra ``embed_nb[images]``; both are imported on first use.
Audio WAV files and uint8 arrays need neither.
"""

from __future__ import annotations

import glob
import hashlib
import io
import math
import os
import stat
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from .errors import InvalidInputError
from .media_codecs import encode_png, encode_wav, is_wav, read_wav, wav_header

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "MAX_AUDIO_SECONDS",
    "MAX_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "Audio",
    "Image",
    "Media",
    "decode_media",
    "is_media",
    "media_paths",
    "thumbnail",
]

#: The largest image or audio file read (64 MiB).
MAX_FILE_BYTES = 64 * 1024**2
#: The most pixels an image may have (40 million, e.g. 8000×5000); checked from the header.
MAX_IMAGE_PIXELS = 40_000_000
#: The longest audio accepted, in seconds (10 minutes).
MAX_AUDIO_SECONDS = 600.0
#: The highest sample rate accepted, in Hz.
MAX_SAMPLE_RATE = 768_000
#: The most files one :func:`media_paths` pattern may name.
MAX_MEDIA_PATHS = 100_000
#: The image formats decoded (Pillow's names; its JPEG decoder also reads the MPO files many
#: cameras write, as their first picture).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
#: File name extensions :func:`media_paths` takes from a directory.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".mpo"}
)
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})

_INSTALL = "pip install 'embed_nb[images]'"
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
_WAVEFORM_RGBA = (76, 120, 168, 255)


@dataclass(frozen=True, eq=False)
class Image:
    """An image to embed, optionally with a caption that is placed after it.

    Args:
        source: A path (``str`` or ``os.PathLike``), the bytes of an image file, a PIL image,
            or a uint8 array of shape ``(h, w)``, ``(h, w, 3)`` or ``(h, w, 4)``.
        text: A caption, embedded after the image in the same sequence.

    Example:
        ``embed_nb.embed([embed_nb.Image("cat.png", text="a cat"), "a dog"])``
    """

    source: object
    text: str = ""


@dataclass(frozen=True, eq=False)
class Audio:
    """A sound to embed, for models whose projector takes audio.

    Args:
        source: A path or the bytes of an audio file (WAV always; FLAC, OGG, MP3 and others
            with soundfile installed), or a 1-D ``(n,)`` or 2-D (frames and channels, either
            way round) float or int array of samples.
        text: A caption, embedded after the sound.
        sample_rate: The samples' rate in Hz: required for an array; for a file, it may only
            repeat the file's own rate.
    """

    source: object
    text: str = ""
    sample_rate: int | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Media:
    """A decoded, checked image or sound: what the engine, the cache and the views see.

    Attributes:
        kind: ``"image"`` or ``"audio"``.
        data: For an image, C-contiguous ``(h, w, 3)`` uint8 RGB; for audio, 1-D float32 mono
            samples in [-1, 1]. Read-only.
        caption: The text placed after the media ("" for none).
        label: Short display text: the file name, else ``"image 64×48"`` or ``"audio 2.5 s"``,
            with the caption after " — " when there is one.
        digest: Hex BLAKE2b of the kind, shape, sample rate and decoded bytes; the caption and the
            file name are not in it, so the same pixels always give the same digest.
        sample_rate: The audio's rate in Hz; None for an image.
        prompt, suffix: Text the engine puts before the media and after the caption (a
            model's query or document prompt, its missing EOS); set by the embedding job, not
            part of the digest or :attr:`key_text` (the cache key has the request's prompt).
    """

    kind: Literal["image", "audio"]
    data: np.ndarray
    caption: str
    label: str
    digest: str
    sample_rate: int | None = None
    prompt: str = ""
    suffix: str = ""

    def __repr__(self) -> str:
        return (
            f"Media(kind={self.kind!r}, label={self.label!r}, shape={self.data.shape}, "
            f"digest={self.digest[:12]!r}…)"
        )

    @property
    def key_text(self) -> str:
        """The string the cache keys on: the digest and the caption (a text never starts with NUL,
        so it cannot collide with one)."""
        return f"\x00{self.kind}:{self.digest}\x00{self.caption}"

    def png_bytes(self) -> bytes:
        """The image as a PNG file, written by embed_nb from the decoded pixels."""
        if self.kind != "image":
            raise InvalidInputError(f"{self.label} is audio; use wav_bytes() for it")
        return encode_png(self.data)

    def wav_bytes(self) -> bytes:
        """The sound as a mono 16-bit PCM WAV file at :attr:`sample_rate`."""
        if self.kind != "audio" or self.sample_rate is None:
            raise InvalidInputError(f"{self.label} is an image; use png_bytes() for it")
        return encode_wav(self.data, self.sample_rate)

    def resampled(self, rate: int) -> np.ndarray:
        """The samples at another rate, as float32 in [-1, 1].

        A polyphase filter (``scipy.signal.resample_poly``, with its anti-aliasing low-pass)
        when the two rates have a small ratio, as all common rates do (44100 → 16000 is
        160/441); plain linear interpolation with numpy otherwise, which may alias when
        downsampling but never costs more than one pass.
        """
        if self.kind != "audio" or self.sample_rate is None:
            raise InvalidInputError(f"{self.label} is an image; only audio can be resampled")
        rate = _checked_rate(rate, "resampled(rate)")
        if rate == self.sample_rate:
            return self.data
        common = math.gcd(rate, self.sample_rate)
        up, down = rate // common, self.sample_rate // common
        if max(up, down) <= 1000:
            from scipy.signal import resample_poly

            out = resample_poly(self.data, up, down)
        else:
            n_out = max(1, round(len(self.data) * rate / self.sample_rate))
            where = np.arange(n_out) * (self.sample_rate / rate)
            out = np.interp(where, np.arange(len(self.data)), self.data)
        return np.clip(out, -1.0, 1.0).astype(np.float32)


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


def media_inputs(pattern: str, caption: str = "") -> list[Image | Audio]:
    """The image and audio files ``pattern`` names (see :func:`media_paths`), each with
    ``caption``: what ``%embed --image`` and ``embed-nb embed --image`` embed."""
    paths = media_paths(pattern)
    return [
        (Audio if path.suffix.lower() in AUDIO_EXTENSIONS else Image)(path, text=caption)
        for path in paths
    ]


def media_paths(pattern: str | os.PathLike[str]) -> list[Path]:
    """The files a ``%embed --image`` argument names, sorted.

    An existing file is itself; a directory gives its image and audio files (by extension, not
    recursive); anything else is a glob (``photos/*.jpg``, ``photos/**/*.png``) and gives the
    files it matches.

    Raises:
        InvalidInputError: nothing matches, or a directory holds no image or audio file.
    """
    if not isinstance(pattern, str | os.PathLike):
        raise InvalidInputError(f"a media path must be a str, not {type(pattern).__name__}")
    text = os.path.expanduser(os.fspath(pattern))
    path = Path(text)
    shown = _short(os.fspath(pattern))
    if path.is_dir():
        try:
            files = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in IMAGE_EXTENSIONS | AUDIO_EXTENSIONS and p.is_file()
            )
        except OSError as error:
            raise InvalidInputError(f"cannot list {shown}: {_reason(error)}") from None
        if not files:
            extensions = ", ".join(sorted(IMAGE_EXTENSIONS | AUDIO_EXTENSIONS))
            raise InvalidInputError(
                f"{shown} holds no image or audio file ({extensions}); give a glob such as "
                f"{shown}/**/*.png for files deeper down"
            )
        return files
    if path.exists():
        return [path]
    found: list[Path] = []
    if any(c in text for c in "*?["):
        for name in glob.iglob(text, recursive=True):
            if os.path.isfile(name):
                found.append(Path(name))
                if len(found) > MAX_MEDIA_PATHS:
                    raise InvalidInputError(
                        f"{shown} matches more than {MAX_MEDIA_PATHS:,} files; narrow it"
                    )
    if not found:
        raise InvalidInputError(
            f"no file matches {shown}; check the path (a file, a directory, or a glob such as "
            "photos/*.jpg or photos/**/*.png)"
        )
    return sorted(found)


# --- sources -----------------------------------------------------------------------------


def _bytes_of(source: object, index: int) -> tuple[bytes, str, str]:
    """The bytes of a path or bytes-like source, how errors name it, and its file name."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        where = f"input {index}"
        if data.nbytes == 0:
            raise InvalidInputError(f"{where} is empty (0 bytes); pass the bytes of a file")
        if data.nbytes > MAX_FILE_BYTES:
            raise InvalidInputError(f"{where} is {_mib(data.nbytes)}, {_too_big()}")
        return data.tobytes(), where, ""
    name = os.fsdecode(cast("str | os.PathLike[str]", source))  # the callers checked its type
    return _read_file(name, index), f"input {index} ({_short(name)})", os.path.basename(name)


def _read_file(name: str, index: int) -> bytes:
    """A whole (small, regular) file; every way it can fail is one line naming it."""
    where = f"input {index} ({_short(name)})"
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise InvalidInputError(f"{where}: no such file; check the path") from None
    except OSError as error:
        raise InvalidInputError(f"{where} cannot be read: {_reason(error)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(
            f"{where} is a directory; give a file, or %embed --image DIR "
            "(embed_nb.media.media_paths) for the images in it"
        )
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block, a device never end
        raise InvalidInputError(f"{where} is not a regular file; copy it to a file first")
    if info.st_size > MAX_FILE_BYTES:
        raise InvalidInputError(f"{where} is {_mib(info.st_size)}, {_too_big()}")
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidInputError(
            f"{where} cannot be read: {_reason(error)}; check its permissions"
        ) from None
    if not data:
        raise InvalidInputError(f"{where} is empty (0 bytes); check the file")
    if len(data) > MAX_FILE_BYTES:  # it grew after the stat
        raise InvalidInputError(f"{where} is over {_mib(MAX_FILE_BYTES)}, {_too_big()}")
    return data


def _looks_like_audio(data: bytes) -> bool:
    """WAV, FLAC, OGG, AIFF or MP3 by its first bytes (an MP3 frame sync never starts a JPEG)."""
    if is_wav(data) or data[:4] in (b"fLaC", b"OggS") or data[:3] == b"ID3":
        return True
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return True
    return len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0


def _caption(text: object, index: int) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(
            f"input {index}: its text (the caption) must be a str, not {type(text).__name__}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInputError(
            f"input {index}: its caption holds a lone surrogate {text[error.start]!r} at "
            f"position {error.start}, which is not valid Unicode; clean it, e.g. "
            "text.encode('utf-8', 'replace').decode()"
        ) from None
    return text


# --- images ------------------------------------------------------------------------------


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
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidInputError(
            f"{where} is {width}×{height} pixels ({width * height / 1e6:,.0f} million), more "
            f"than the {MAX_IMAGE_PIXELS / 1e6:g} million embed_nb decodes (a guard against "
            "decompression bombs); scale it down first"
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


# --- audio -------------------------------------------------------------------------------


def _audio(source: object, caption: str, rate: object, index: int) -> Media:
    where = f"input {index}"
    given = None if rate is None else _checked_rate(rate, f"{where}: sample_rate")
    if isinstance(source, np.ndarray):
        if given is None:
            raise InvalidInputError(
                f"{where} is an array of samples without a rate; pass "
                "embed_nb.Audio(samples, sample_rate=16000) with the real rate"
            )
        return _audio_from_array(source, given, where, caption)
    if isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        data, where, name = _bytes_of(source, index)
        return _audio_from_bytes(data, where, name, caption, given)
    raise InvalidInputError(
        f"{where}: an Audio's source is a {type(source).__name__}; pass a path, the file's "
        "bytes, or an array of samples with sample_rate"
    )


def _audio_from_bytes(data: bytes, where: str, name: str, caption: str, given: int | None) -> Media:
    if is_wav(data):
        try:
            _tag, channels, rate, bits, raw = wav_header(data)
            _check_duration(len(raw) // (channels * ((bits + 7) // 8)), rate, where)
            frames, rate = read_wav(data)
        except ValueError as error:
            raise InvalidInputError(
                f"{where} is not a readable WAV file: {_short(str(error))}; re-save it as "
                "16-bit PCM WAV"
            ) from None
    else:
        frames, rate = _read_with_soundfile(data, where)
    if given is not None and given != rate:
        raise InvalidInputError(
            f"{where} is recorded at {rate} Hz, not sample_rate={given}; leave sample_rate out "
            "for a file"
        )
    mono = frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]
    return _audio_media(mono, rate, where, caption, name)


def _read_with_soundfile(data: bytes, where: str) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:
        raise InvalidInputError(
            f"{where}: audio other than WAV needs soundfile: {_INSTALL}; or convert it to WAV"
        ) from None
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            rate = int(sound.samplerate)
            _checked_rate(rate, where)
            if sound.frames > 0:
                _check_duration(sound.frames, rate, where)
            # Some formats do not know their length: never read past the limit.
            limit = int(MAX_AUDIO_SECONDS * rate) + 1
            frames = sound.read(frames=limit, dtype="float32", always_2d=True)
    except InvalidInputError:
        raise
    except Exception as error:  # libsndfile's errors, and whatever a damaged file causes
        raise InvalidInputError(
            f"{where} is not a readable audio file: {_short(str(error))}; convert it to WAV"
        ) from None
    return frames, rate


def _audio_from_array(array: np.ndarray, rate: int, where: str, caption: str) -> Media:
    if array.ndim == 1:
        frames = array.reshape(-1, 1)
    elif array.ndim == 2 and array.shape[1] <= 8:
        frames = array
    elif array.ndim == 2 and array.shape[0] <= 8:
        frames = array.T  # (channels, frames), as torchaudio and librosa keep it
    else:
        raise InvalidInputError(
            f"{where} is an array of shape {array.shape}; audio is (frames,), "
            "(frames, channels) or (channels, frames) with at most 8 channels"
        )
    kind = array.dtype.kind
    if kind == "f":
        samples = frames.astype(np.float64)
        if not np.isfinite(samples).all():
            raise InvalidInputError(
                f"{where} holds NaN or infinite samples; clean them, e.g. np.nan_to_num(a)"
            )
        if samples.size and np.abs(samples).max() > 32.0:
            raise InvalidInputError(
                f"{where} has samples far outside [-1, 1]; scale them, e.g. a / 32768 for "
                "16-bit values"
            )
    elif array.dtype in (np.int16, np.int32, np.int8):
        samples = frames.astype(np.float64) / float(np.iinfo(array.dtype).max + 1)
    elif array.dtype == np.uint8:
        samples = (frames.astype(np.float64) - 128.0) / 128.0
    else:
        raise InvalidInputError(
            f"{where} is a {array.dtype} array; audio samples are float in [-1, 1] or int16, "
            "e.g. pass a.astype(np.float32) / 32768"
        )
    _check_duration(len(frames), rate, where)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return _audio_media(mono, rate, where, caption, "")


def _audio_media(samples: np.ndarray, rate: int, where: str, caption: str, name: str) -> Media:
    if samples.size == 0:
        raise InvalidInputError(f"{where} holds no samples; pass a sound at least a moment long")
    _check_duration(len(samples), rate, where)
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"{where} holds NaN or infinite samples; check the file")
    # Float files may go past full scale; a player clips them, and so does embed_nb.
    pcm = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype="<f4")
    pcm.flags.writeable = False
    seconds = len(pcm) / rate
    shown = f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2g}"
    return Media(
        kind="audio",
        data=pcm,
        caption=caption,
        label=_label(name or f"audio {shown} s", caption),
        digest=_digest("audio", pcm, rate),
        sample_rate=rate,
    )


def _check_duration(n_frames: int, rate: int, where: str) -> None:
    if n_frames / rate > MAX_AUDIO_SECONDS:
        raise InvalidInputError(
            f"{where} is {n_frames / rate:,.0f} s long, more than the {MAX_AUDIO_SECONDS:g} s "
            "embed_nb takes; cut it into shorter clips"
        )


def _checked_rate(rate: object, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise InvalidInputError(f"{what} must be an int (Hz), not {type(rate).__name__}")
    if not 1 <= int(rate) <= MAX_SAMPLE_RATE:
        raise InvalidInputError(f"{what} must be from 1 to {MAX_SAMPLE_RATE} Hz, not {rate}")
    return int(rate)


def _waveform_png(samples: np.ndarray, width: int) -> bytes:
    """Each column spans the lowest to the highest sample in its stretch of time."""
    height = max(8, width // 2)
    if len(samples) < width:  # fewer samples than columns: one per column, interpolated
        samples = np.interp(
            np.linspace(0, len(samples) - 1, width), np.arange(len(samples)), samples
        )
    starts = np.linspace(0, len(samples), width, endpoint=False).astype(np.int64)
    low = np.minimum.reduceat(samples, starts)
    high = np.maximum.reduceat(samples, starts)
    top = np.round((1.0 - high) / 2.0 * (height - 1)).astype(np.int64)
    bottom = np.round((1.0 - low) / 2.0 * (height - 1)).astype(np.int64)
    rows = np.arange(height)[:, None]
    drawn = (rows >= top[None, :]) & (rows <= bottom[None, :])
    picture = np.zeros((height, width, 4), dtype=np.uint8)  # transparent: fits any theme
    picture[drawn] = _WAVEFORM_RGBA
    return encode_png(picture, level=9)


# --- shared ------------------------------------------------------------------------------


def _digest(kind: str, data: np.ndarray, rate: int | None) -> str:
    """BLAKE2b of what was decoded: the same pixels (or samples and rate) give the same digest."""
    digest = hashlib.blake2b(digest_size=16)
    shape = "x".join(str(n) for n in data.shape)
    digest.update(f"{kind}:{shape}:{rate or 0}\x00".encode())
    digest.update(data.data.cast("B"))  # C-contiguous: no copy
    return digest.hexdigest()


def _label(name: str, caption: str) -> str:
    name = _short(name, 60)
    return f"{name} — {_short(caption, 60)}" if caption else name


def _short(text: str, limit: int = 160) -> str:
    """One line, at most ``limit`` characters: for names and messages inside an error."""
    flat = "".join(c if c.isprintable() else " " for c in text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _reason(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.1f} MiB"


def _too_big() -> str:
    return f"more than the {_mib(MAX_FILE_BYTES)} embed_nb reads; make it smaller first"
