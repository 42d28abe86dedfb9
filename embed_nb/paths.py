"""Where embed_nb keeps files it makes (converted models, the embedding cache), and the one
rule for deleting them.

The user cache directory is shared by every environment and process on the machine: a kernel
in another venv may be about to open a model file at any moment. So a file there is deleted
only when it has not been used for :data:`UNUSED_FOR_S` (7 days). "Used" is the newest of its
modification time and its access time, and every resolve of a model file stamps its access
time (:func:`mark_used`), so the rule holds on ``noatime`` mounts too. A kernel that mapped a
file longer ago than that keeps its mapping: unlinking a mapped file is safe on POSIX.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["UNUSED_FOR_S", "cache_dir", "mark_used", "path_text", "prune_unused"]

#: A file in the shared cache unused for this long may be deleted when a newer copy exists.
UNUSED_FOR_S = 7 * 24 * 3600.0


def path_text(value: object, what: str, accepted: str) -> str:
    """A path the user gave, as text: a clear error for what cannot be one.

    Args:
        value: what the user passed.
        what: how messages name it, e.g. ``"the model source"``.
        accepted: what may be given instead, e.g. ``"a .gguf file or a URL"``.

    Raises:
        InvalidInputError: not a str or path, bytes, or a str holding NUL (which the OS
            refuses with a ValueError deep inside ``open``).
    """
    from .errors import InvalidInputError

    if not isinstance(value, str | os.PathLike):
        raise InvalidInputError(
            f"{what} must be a str or a path ({accepted}), not {type(value).__name__}"
        )
    text = os.fspath(value)
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a str path, not bytes; decode it first")
    if "\0" in text:
        raise InvalidInputError(f"{what} holds a NUL byte (\\0); give a plain path")
    return text


def cache_dir(*, create: bool = True) -> Path:
    """The user cache directory: ``$EMBED_NB_CACHE_DIR``, else ``$XDG_CACHE_HOME/embed_nb``,
    else ``~/.cache/embed_nb``.

    Args:
        create: make the directory if it is missing (raises OSError when it cannot be made).
    """
    explicit = os.environ.get("EMBED_NB_CACHE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "embed_nb"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def mark_used(path: Path) -> None:
    """Stamp ``path``'s access time as now, keeping its modification time.

    Only the access time changes, so identities built from (size, mtime, inode), such as the
    engine's fingerprint memo, stay valid. Best effort: a read-only cache is simply not stamped.
    """
    with contextlib.suppress(OSError):
        mtime_ns = path.stat().st_mtime_ns
        os.utime(path, ns=(time.time_ns(), mtime_ns))


def last_used(path: Path) -> float | None:
    """When ``path`` was last modified or used (seconds since the epoch); None if it is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return max(st.st_atime, st.st_mtime)


def prune_unused(candidates: Iterable[Path], *, keep: Path, now: float | None = None) -> list[Path]:
    """Delete the candidates (never ``keep``) unused for :data:`UNUSED_FOR_S`; return them.

    Used after a newer copy of a model has been written: older copies that nobody has touched
    for a week are dead weight, younger ones may belong to another environment's kernel.
    """
    now = time.time() if now is None else now
    removed = []
    for path in candidates:
        if path == keep:
            continue
        used = last_used(path)
        if used is None or now - used < UNUSED_FOR_S:
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
            path.unlink()
            removed.append(path)
    return removed
