"""Writing a GGUF atomically: a temp file beside the target, fsynced, then ``os.replace``."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import gguf


def write_gguf_atomically(writer: gguf.GGUFWriter, out_path: str | os.PathLike[str]) -> Path:
    """Write a filled, not yet opened ``GGUFWriter`` to ``out_path`` atomically.

    The file is written to a temporary name in the same directory, fsynced, and moved into place
    with ``os.replace``, so an interrupted write never leaves a truncated GGUF behind, and a
    reader sees the old file or the new one, whole.

    Args:
        writer: A writer created with ``path=None`` that holds all metadata and tensors.
        out_path: Where the GGUF should end up.

    Returns:
        The final path.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _atomic_target(out) as tmp:
            writer.write_header_to_file(path=tmp)
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
    except BaseException:
        # The writer's file handle is still open after a failed write; the temp is gone.
        with contextlib.suppress(Exception):
            writer.close()
        raise
    return out


#: A temp file this old was left by a writer that was killed (SIGKILL, power loss).
_ABANDONED_AFTER_S = 24 * 3600.0


@contextlib.contextmanager
def _atomic_target(out: Path) -> Iterator[Path]:
    """Yield a temp path beside ``out``; on success fsync it and move it over ``out``."""
    _remove_abandoned_temps(out.parent)
    tmp = _create_temp_beside(out)
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, out)
    except BaseException:
        # KeyboardInterrupt too: never leave the half-written file behind. A failing unlink
        # must not hide the error that brought us here.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(out.parent)


def _remove_abandoned_temps(folder: Path) -> None:
    """Delete temp files of killed writers (a day old: no live write takes that long)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for stale in folder.glob(".*.partial"):
            with contextlib.suppress(OSError):
                if now - stale.stat().st_mtime > _ABANDONED_AFTER_S:
                    stale.unlink()


def _create_temp_beside(out: Path) -> Path:
    """Create an empty, uniquely named file next to ``out`` with umask-respecting permissions."""
    # mkstemp would make the final file 0600; a model file should be as readable as any other.
    while True:
        tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    with contextlib.suppress(OSError):
        _fsync_path(path)
