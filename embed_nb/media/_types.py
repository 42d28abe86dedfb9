"""What users pass (:class:`Image`, :class:`Audio`) and what the engine gets (:class:`Media`),
and the small helpers the decoders share."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InvalidInputError
from . import _limits
from ._codecs import encode_png, encode_wav

#: How to get the optional decoders (Pillow, soundfile).
_INSTALL = "pip install 'embed_nb[images]'"


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


def _checked_rate(rate: object, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise InvalidInputError(f"{what} must be an int (Hz), not {type(rate).__name__}")
    if not 1 <= int(rate) <= _limits.MAX_SAMPLE_RATE:
        raise InvalidInputError(
            f"{what} must be from 1 to {_limits.MAX_SAMPLE_RATE} Hz, not {rate}"
        )
    return int(rate)


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
    return f"more than the {_mib(_limits.MAX_FILE_BYTES)} embed_nb reads; make it smaller first"
