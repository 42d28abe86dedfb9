"""Content fingerprints of model files: every byte hashed once, then remembered.

A fingerprint keys the f32 copy of a model, its cached vectors and its verification verdict,
so it must change when any byte that decides the vectors changes (a scaled middle tensor
included). Hashing a multi-GB file takes seconds, so the digest is remembered by the file's
identity ``(resolved path, size, mtime_ns, inode, device)``: in this process, and on disk in
the cache directory so that a new kernel loads an unchanged file without reading it again.
Any write to the file changes its mtime (or size or inode, for a replaced file), and with it
the identity, so a stale digest is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

from ..errors import ModelLoadError, ModelNotFoundError
from ..files import atomic_write
from ..paths import cache_dir

# Reads of 4 MiB keep the hash near its own speed; hashlib releases the GIL for each.
_CHUNK = 4 << 20
# Characters of the digest in a fingerprint: 64 bits, enough to tell a user's files apart.
# Verification verdicts use the whole digest (see file_digest), which a crafted file cannot
# collide with.
FINGERPRINT_CHARS = 16

_MEMO: dict[tuple[str, int, int, int, int], str] = {}
_MEMO_LOCK = threading.Lock()


def file_fingerprint(path: Path) -> str:
    """A short content hash of the whole file (16 hex digits), cached by the file's identity."""
    return file_digest(path)[:FINGERPRINT_CHARS]


def file_digest(path: Path) -> str:
    """The SHA-256 hex digest of every byte of ``path``, hashed at most once per identity."""
    identity = _identity(path)
    with _MEMO_LOCK:
        known = _MEMO.get(identity)
    if known is not None:
        return known
    record = _record_path(identity)
    digest = _read_record(record)
    if digest is None:
        digest = _hash_file(path, identity)
        _write_record(record, digest)
    with _MEMO_LOCK:
        _MEMO[identity] = digest
    return digest


def _identity(path: Path) -> tuple[str, int, int, int, int]:
    try:
        resolved = Path(path).resolve()
        st = resolved.stat()
    except FileNotFoundError:
        raise ModelNotFoundError(
            f"model file {os.fspath(path)!r} does not exist (was it moved or deleted?)"
        ) from None
    except OSError as error:
        raise ModelLoadError(f"cannot read model file {os.fspath(path)!r}: {error}") from None
    return (str(resolved), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _hash_file(path: Path, identity: tuple[str, int, int, int, int]) -> str:
    digest = hashlib.sha256()  # SHA-NI: 0.11 s for MiniLM's 44 MiB here, blake2b 0.19 s
    try:
        with open(identity[0], "rb", buffering=0) as f:
            buffer = bytearray(_CHUNK)
            view = memoryview(buffer)
            while n := f.readinto(buffer):
                digest.update(view[:n])
    except OSError as error:
        raise ModelLoadError(f"cannot read model file {os.fspath(path)!r}: {error}") from None
    if _identity(path) != identity:  # written to while we read it: the digest is of nothing
        raise ModelLoadError(f"model file {os.fspath(path)!r} changed while it was read; retry")
    return digest.hexdigest()


def _record_path(identity: tuple[str, int, int, int, int]) -> Path | None:
    key = hashlib.sha256("\0".join(map(str, identity)).encode("utf-8", "replace")).hexdigest()
    try:
        return cache_dir() / "fingerprints" / f"{key[:40]}.txt"
    except OSError:  # no usable cache directory: remember in this process only
        return None


def _read_record(record: Path | None) -> str | None:
    if record is None:
        return None
    try:
        text = record.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    valid = len(text) == 64 and all(c in "0123456789abcdef" for c in text)
    return text if valid else None  # a damaged record is rehashed, never trusted


def _write_record(record: Path | None, digest: str) -> None:
    """Write atomically (temp file + rename): a reader sees a whole record or none."""
    if record is None:
        return
    with contextlib.suppress(OSError):  # a read-only cache only costs a rehash next time
        record.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(record, "w") as f:
            f.write(digest + "\n")


def forget_memo() -> None:
    """Drop the in-process memo (tests use it to show the on-disk record is used)."""
    with _MEMO_LOCK:
        _MEMO.clear()
