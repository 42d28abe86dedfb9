"""Audio decoded by the WAV reader (or soundfile for other formats) into mono float32 samples,
and the waveform thumbnail."""

from __future__ import annotations

import io
import os

import numpy as np

from ..errors import InvalidInputError
from . import _limits
from ._codecs import encode_png, is_wav, read_wav, wav_header
from ._sources import _bytes_of
from ._types import _INSTALL, Media, _checked_rate, _digest, _label, _short

_WAVEFORM_RGBA = (76, 120, 168, 255)


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
            limit = int(_limits.MAX_AUDIO_SECONDS * rate) + 1
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
    if n_frames / rate > _limits.MAX_AUDIO_SECONDS:
        raise InvalidInputError(
            f"{where} is {n_frames / rate:,.0f} s long, more than the "
            f"{_limits.MAX_AUDIO_SECONDS:g} s embed_nb takes; cut it into shorter clips"
        )


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
