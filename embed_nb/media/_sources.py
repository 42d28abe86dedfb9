"""Where the bytes come from: a file (size-capped, regular files only) or bytes, and the caption."""

from __future__ import annotations

import os
import stat
from typing import cast

from ..errors import InvalidInputError
from . import _limits
from ._codecs import is_wav
from ._types import _mib, _reason, _short, _too_big


def _bytes_of(source: object, index: int) -> tuple[bytes, str, str]:
    """The bytes of a path or bytes-like source, how errors name it, and its file name."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        where = f"input {index}"
        if data.nbytes == 0:
            raise InvalidInputError(f"{where} is empty (0 bytes); pass the bytes of a file")
        if data.nbytes > _limits.MAX_FILE_BYTES:
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
    if info.st_size > _limits.MAX_FILE_BYTES:
        raise InvalidInputError(f"{where} is {_mib(info.st_size)}, {_too_big()}")
    try:
        with open(name, "rb") as handle:
            data = handle.read(_limits.MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidInputError(
            f"{where} cannot be read: {_reason(error)}; check its permissions"
        ) from None
    if not data:
        raise InvalidInputError(f"{where} is empty (0 bytes); check the file")
    if len(data) > _limits.MAX_FILE_BYTES:  # it grew after the stat
        raise InvalidInputError(f"{where} is over {_mib(_limits.MAX_FILE_BYTES)}, {_too_big()}")
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
