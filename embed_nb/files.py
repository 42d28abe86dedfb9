"""Files the front ends read and write: atomic outputs and bounded inputs.

Every output file embed_nb writes goes through :func:`atomic_write`: the data goes to a
temporary file next to the target, is flushed to disk, and only then renamed over the target.
A failed write (a full disk, ``ulimit -f``, an interrupt) therefore leaves the old file as it
was, never a truncated one. Special targets (``/dev/stdout``, ``/dev/null``, a FIFO) cannot be
renamed over, so they are written directly.

Every input file goes through :func:`read_capped`, which stops at a size limit instead of
reading ``/dev/zero`` or a runaway pipe until memory runs out.

Failures are :class:`FileAccessError`, an :class:`~embed_nb.errors.EmbedNbError` with a one-line
message that names the path and says what went wrong.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from .errors import FileAccessError

__all__ = [
    "DEFAULT_MAX_READ_BYTES",
    "atomic_write",
    "describe",
    "read_capped",
]

#: The most bytes :func:`read_capped` reads by default (64 MiB: about 100k paragraphs).
DEFAULT_MAX_READ_BYTES = 64 * 1024**2

_CHUNK = 1024**2


def describe(error: OSError, *, writing: bool = False) -> str:
    """A short reason for an OSError: its ``strerror``, and for a write a hint on what to do."""
    reason = error.strerror or str(error) or type(error).__name__
    if not writing:
        return reason
    hints = {
        errno.ENOENT: "; create the directory first",
        errno.EACCES: "; choose a directory you may write to",
        errno.EROFS: "; choose a writable directory",
        errno.ENOSPC: "; free some space or choose another disk",
        errno.EFBIG: "; the file size limit (ulimit -f) was reached",
        errno.EISDIR: "; give a file name, not a directory",
    }
    return reason + hints.get(error.errno or 0, "")


def _is_special(path: str) -> bool:
    """True for an existing target that is not a regular file (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is replaced whole, or not at all.

    Args:
        path: the file to write. An existing regular file is replaced only once the new
            contents are complete and on disk; a special file (``/dev/stdout``, a FIFO) is
            written directly, since it cannot be replaced.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        The open file to write to.

    Raises:
        FileAccessError: the directory is missing or read-only, the disk is full, the file
            size limit was reached, ... The target is left as it was, and the temporary file
            is removed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    target = os.fspath(path)
    encoding = None if "b" in mode else "utf-8"
    if os.path.isdir(target):
        raise FileAccessError(f"cannot write {target}: it is a directory; give a file name")
    if _is_special(target):
        try:
            with open(target, mode, encoding=encoding) as handle:
                yield handle
        except OSError as error:
            raise FileAccessError(
                f"cannot write {target}: {describe(error, writing=True)}"
            ) from None
        return
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
        )
    except OSError as error:
        raise FileAccessError(f"cannot write {target}: {describe(error, writing=True)}") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_permissions(target, temporary)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, FileAccessError):
            raise FileAccessError(
                f"cannot write {target}: {describe(error, writing=True)}"
            ) from None
        raise


def _keep_permissions(target: str, temporary: str) -> None:
    """Give the new file the old one's permissions, or the umask's default for a new file
    (mkstemp makes it 0600, which would surprise anyone who shares the output)."""
    try:
        wanted = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        wanted = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(temporary, wanted)


def read_capped(
    source: str | os.PathLike[str] | BinaryIO, limit: int = DEFAULT_MAX_READ_BYTES
) -> bytes:
    """Read a whole file (or an open binary stream such as stdin), refusing more than ``limit``.

    Reads in chunks, so ``/dev/zero`` or an endless pipe costs at most ``limit`` bytes.

    Raises:
        FileAccessError: the file cannot be read, or holds more than ``limit`` bytes.
    """
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        if os.path.isdir(name):
            raise FileAccessError(f"cannot read {name}: it is a directory; give a file")
        try:
            with open(name, "rb") as handle:
                return _read_limited(handle, limit, name)
        except FileAccessError:
            raise
        except OSError as error:
            raise FileAccessError(f"cannot read {name}: {describe(error)}") from None
    try:
        return _read_limited(source, limit, "stdin")
    except FileAccessError:
        raise
    except OSError as error:
        raise FileAccessError(f"cannot read stdin: {describe(error)}") from None


def _read_limited(handle: BinaryIO, limit: int, name: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        part = handle.read(min(_CHUNK, limit + 1 - total))
        if not part:
            return b"".join(parts)
        parts.append(part)
        total += len(part)
        if total > limit:
            raise FileAccessError(
                f"{name} holds more than {_size(limit)}, the most embed_nb reads at once; "
                "split it into smaller files"
            )


def _size(n: int) -> str:
    return f"{n / 1024**2:g} MiB" if n >= 1024**2 else f"{n:,} bytes"
