"""Small, dependency-free codecs for :mod:`embed_nb.media`: WAV in and out, PNG out.

They are written with numpy, zlib and the standard library only, so audio works without
Pillow, and the bytes embed_nb sends on (to llama-server, to the widgets) are always ones it
wrote itself. Each function raises :class:`ValueError` with a short reason; the caller turns it
into a one-line :class:`~embed_nb.errors.InvalidInputError` that names the input.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib

import numpy as np

__all__ = ["encode_png", "encode_wav", "is_wav", "read_wav", "wav_header"]

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE


def is_wav(data: bytes) -> bool:
    """True for a RIFF/WAVE (or RF64) header."""
    return len(data) >= 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE"


def wav_header(data: bytes) -> tuple[int, int, int, int, memoryview]:
    """The ``fmt `` fields and the sample bytes of a WAV file, without decoding them.

    Returns ``(format_tag, channels, sample_rate, bits_per_sample, samples)``; ``samples`` is
    cut to whole frames. Our own reader, because the standard library's ``wave`` (Python 3.11)
    reads neither float samples nor the WAVE_FORMAT_EXTENSIBLE header most tools write.
    """
    if not is_wav(data):
        raise ValueError("no RIFF/WAVE header")
    view = memoryview(data)
    fmt: tuple[int, int, int, int, int] | None = None
    samples: memoryview | None = None
    pos = 12
    while pos + 8 <= len(data) and (samples is None or fmt is None):
        chunk_id = bytes(view[pos : pos + 4])
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = view[pos + 8 : pos + 8 + size]  # a streamed file's data size may be too big
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise ValueError("its fmt chunk is too short")
            tag, channels, rate, _byte_rate, block, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)  # the sub-format GUID's first field
            fmt = (tag, channels, rate, block, bits)
        elif chunk_id == b"data":
            samples = body
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt is None:
        raise ValueError("it has no fmt chunk")
    if samples is None:
        raise ValueError("it has no data chunk")
    tag, channels, rate, block, bits = fmt
    if channels < 1 or rate < 1 or bits < 1:
        raise ValueError(f"its header is invalid ({channels} channels, {rate} Hz, {bits} bits)")
    if block != channels * ((bits + 7) // 8):
        raise ValueError(f"its block size {block} does not fit {channels} × {bits}-bit samples")
    whole = len(samples) - len(samples) % block
    return tag, channels, rate, bits, samples[:whole]


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a WAV file to ``(frames, channels)`` float32 in [-1, 1] and its sample rate.

    Reads PCM 8 (unsigned), 16, 24 and 32-bit, and IEEE float 32 and 64-bit samples.
    """
    tag, channels, rate, bits, raw = wav_header(data)
    if tag == _PCM and bits in (8, 16, 24, 32):
        pcm = _pcm_to_float(raw, bits)
    elif tag == _FLOAT and bits in (32, 64):
        pcm = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    else:
        kind = {_PCM: "PCM", _FLOAT: "float"}.get(tag, f"format 0x{tag:04x}")
        raise ValueError(f"{bits}-bit {kind} WAV is not supported (PCM 8/16/24/32-bit or float)")
    return pcm.reshape(-1, channels), rate


def _pcm_to_float(raw: memoryview, bits: int) -> np.ndarray:
    if bits == 8:  # 8-bit WAV is unsigned, centred on 128
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 24:  # three little-endian bytes: put them in the top of an int32
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = (b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)
        return value.astype(np.float32) / 2.0**31
    dtype = "<i2" if bits == 16 else "<i4"
    return np.frombuffer(raw, dtype=dtype).astype(np.float32) / 2.0 ** (bits - 1)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file (standard library ``wave``)."""
    # x 32768, as every reader divides (miniaudio, soundfile, ours): 16-bit samples read from
    # a file are written back unchanged; +1.0 itself clips to 32767.
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(int(sample_rate))
        writer.writeframes(pcm.tobytes())
    return out.getvalue()


def encode_png(pixels: np.ndarray, level: int = 1) -> bytes:
    """An ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 array as a PNG file.

    Every row uses filter 0 (none) and zlib level 1 by default: fast, and the result is a
    plain, well-formed PNG that any decoder reads.
    """
    height, width, channels = pixels.shape
    colour_type = {3: 2, 4: 6}[channels]
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # column 0: filter byte
    rows[:, 1:] = pixels.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
