"""A content-addressed store of embeddings: an in-memory LRU in front of a SQLite file.

The key of a vector (:func:`cache_key`, in :mod:`embed_nb.cache_keys`) is a hash of everything
that decides it: the model's fingerprint, its pooling, the :class:`~embed_nb.request.EmbedRequest`
(normalisation, truncate/chunk mode, with the context size when either is on) and the text
itself. Re-running a cell therefore finds every vector it made before, in this kernel or in an
earlier one, and a changed model or option never returns a stale one.

Rows are checksummed and name their own encoding (:mod:`embed_nb.cache_rows`):
``EmbeddingCache(path, dtype="int8")`` writes int8 with a per-vector scale, about 4x smaller
on disk, and every cache reads both encodings back as float32. What a locked, read-only, full
or corrupt file may do to a call is in :mod:`embed_nb.cache_file`. The cache never makes an
embedding call fail.

The file is shared with older embed_nb versions: their unchecksummed rows live in the
``vectors`` table, which this version neither reads nor changes (except :meth:`clear`); its
rows live in ``vectors2``. An old install therefore keeps working on the same file, and an old
row is never trusted: it is a miss here and is recomputed once.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cache_file import _TABLE, BUSY_TIMEOUT_MS, CacheWarning, SqliteFile
from .cache_keys import cache_key
from .cache_rows import DTYPE as _DTYPE
from .cache_rows import (
    CacheInfo,
    Entry,
    check_storage_dtype,
    decode_row,
    encode_vector,
    row_checksum,
)
from .errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CacheInfo",
    "CacheWarning",
    "EmbeddingCache",
    "Entry",
    "cache_key",
    "default_cache",
    "get_cache",
    "row_checksum",
]

#: File name of the cache database inside the cache directory.
DB_NAME = "embeddings.sqlite"
#: Bytes of vectors kept in memory by default (the SQLite file has no limit).
DEFAULT_MEMORY_BYTES = 256 * 2**20
#: After a lock or I/O problem, the file is left alone this long before it is tried again.
RETRY_AFTER_S = 30.0
# SQLite allows 32766 host parameters; stay well below for IN (...) look-ups.
_LOOKUP_BATCH = 500


class EmbeddingCache(SqliteFile):
    """Vectors by content key, in memory (LRU, bounded in bytes) and in a SQLite file.

    Args:
        path: the SQLite file; ``None`` keeps the cache in memory only.
        memory_bytes: how many bytes of vectors the in-memory LRU holds.
        dtype: how new vectors are written: ``"float32"`` (exact) or ``"int8"`` (symmetric,
            one float32 scale per vector: each component off by at most ``scale / 2`` where
            ``scale = max|x| / 127``; about 4x less disk). Rows of either encoding are read
            back as float32, whatever this is; it may be changed later (:attr:`dtype`).

    Safe to share between threads; several kernels may share one file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        dtype: str = "float32",
    ) -> None:
        super().__init__(path)
        self._dtype = check_storage_dtype(dtype)
        self.memory_limit = memory_bytes
        self.hits = 0
        self.misses = 0
        self.dropped_rows = 0
        self._memory: OrderedDict[str, Entry] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    @property
    def dtype(self) -> str:
        """How new vectors are written: ``"float32"`` or ``"int8"``."""
        return self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        self._dtype = check_storage_dtype(value)

    def _retry_after(self) -> float:
        return RETRY_AFTER_S  # read each time: tests and users may change the module's value

    # --- reading and writing -------------------------------------------------------------

    def get_many(self, keys: Sequence[str], *, dim: int | None = None) -> dict[str, Entry]:
        """The cached entries among ``keys`` (memory first, then the file).

        Args:
            keys: content keys from :func:`cache_key`.
            dim: the model's embedding size, when known: a stored row of another size is a
                miss (and is dropped), never a vector of the wrong shape.
        """
        found: dict[str, Entry] = {}
        with self._lock:
            missing = []
            for key in keys:
                entry = self._memory.get(key)
                if entry is None or (dim is not None and entry.vector.shape[-1] != dim):
                    missing.append(key)
                else:
                    self._memory.move_to_end(key)
                    found[key] = entry
            db = self._connection() if missing else None
            if db is not None:
                try:
                    self._read(db, list(dict.fromkeys(missing)), dim, found)
                except sqlite3.Error as error:
                    self._on_disk_error(error, reading=True)
            hits = sum(1 for key in keys if key in found)
            self.hits += hits
            self.misses += len(keys) - hits
        return found

    def _read(
        self, db: sqlite3.Connection, keys: list[str], dim: int | None, found: dict[str, Entry]
    ) -> None:
        bad: list[tuple[str, object]] = []
        for start in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows = db.execute(
                "SELECT key, dtype, shape, n_tokens, data, checksum "
                f"FROM {_TABLE} WHERE key IN ({marks})",
                batch,
            ).fetchall()
            for key, dtype, shape, n_tokens, data, checksum in rows:
                entry = decode_row(key, dtype, shape, n_tokens, data, checksum, dim)
                if entry is None:
                    bad.append((key, checksum))
                else:
                    found[key] = entry
                    self._remember(key, entry)
        if bad:
            self._drop_rows(bad)

    def _drop_rows(self, bad: list[tuple[str, object]]) -> None:
        """Delete rows that failed their checks, so they are recomputed and written afresh."""
        self.dropped_rows += len(bad)
        self._warn(
            "rows",
            f"dropped {len(bad)} damaged or mismatched row(s) from the embedding cache "
            f"{self.path}; they are recomputed",
            always=True,
        )
        db = self._writable()
        if db is None:
            return
        try:
            with self._transaction(db):
                # Only the row that was read: a good row written meanwhile by another kernel stays.
                db.executemany(f"DELETE FROM {_TABLE} WHERE key = ? AND checksum IS ?", bad)
        except sqlite3.Error as error:
            self._on_disk_error(error)

    def put_many(self, items: Iterable[tuple[str, np.ndarray, int]]) -> None:
        """Store ``(key, vector, n_tokens)`` items in memory and in one file transaction.

        A vector that is not a finite 1-D or 2-D float array is not cached at all. With
        ``dtype="int8"`` the memory keeps the vector as the file gives it back (dequantised),
        so a hit is the same vector from either.
        """
        import numpy as np

        rows = []
        now = time.time()
        with self._lock:
            for key, vector, n_tokens in items:
                try:
                    array = np.array(vector, dtype=_DTYPE, copy=True)
                except (TypeError, ValueError):
                    continue
                if array.ndim not in (1, 2) or not array.shape[-1] or n_tokens < 0:
                    continue
                if not np.isfinite(array).all():
                    continue  # a NaN is never served from the cache: it is computed again
                dtype, data, stored = encode_vector(array, self._dtype)
                self._remember(key, Entry(stored, int(n_tokens)))
                shape = ",".join(str(n) for n in array.shape)
                checksum = row_checksum(key, dtype, shape, int(n_tokens), data)
                rows.append((key, dtype, shape, int(n_tokens), data, checksum, now))
            if not rows:
                return
            db = self._writable()
            if db is None:
                return
            try:
                with self._transaction(db):
                    db.executemany(f"INSERT OR REPLACE INTO {_TABLE} VALUES (?,?,?,?,?,?,?)", rows)
            except sqlite3.Error as error:
                self._on_disk_error(error)

    def _remember(self, key: str, entry: Entry) -> None:
        old = self._memory.pop(key, None)
        if old is not None:
            self._memory_bytes -= old.vector.nbytes
        self._memory[key] = entry
        self._memory_bytes += entry.vector.nbytes
        while self._memory_bytes > self.memory_limit and self._memory:
            _, dropped = self._memory.popitem(last=False)
            self._memory_bytes -= dropped.vector.nbytes

    # --- housekeeping --------------------------------------------------------------------

    def info(self) -> CacheInfo:
        """Entries and sizes on disk and in memory, and this session's hits and misses."""
        with self._lock:
            entries = 0
            db = self._connection()
            if db is not None:
                try:
                    entries = int(db.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0])
                except sqlite3.Error as error:
                    self._on_disk_error(error, reading=True)
            disk = 0
            if self.path is not None:
                for suffix in ("", "-wal"):
                    with contextlib.suppress(OSError):
                        disk += os.path.getsize(f"{self.path}{suffix}")
            usable = self.path is not None and self._off_until != math.inf
            return CacheInfo(
                path=str(self.path) if usable else None,
                entries=entries,
                disk_bytes=disk,
                memory_entries=len(self._memory),
                memory_bytes=self._memory_bytes,
                memory_limit=self.memory_limit,
                hits=self.hits,
                misses=self.misses,
                enabled=True,
                dtype=self._dtype,
            )

    def clear(self) -> int:
        """Forget every vector, in memory and on disk; returns how many were on disk.

        Rows of older embed_nb versions (table ``vectors``) are cleared too.
        """
        with self._lock:
            self._memory.clear()
            self._memory_bytes = 0
            removed = 0
            db = self._writable()
            if db is None:
                return 0
            try:
                with self._transaction(db):
                    removed = int(db.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0])
                    db.execute(f"DELETE FROM {_TABLE}")
                    legacy = db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vectors'"
                    ).fetchone()
                    if legacy:
                        db.execute("DELETE FROM vectors")
            except sqlite3.Error as error:
                self._on_disk_error(error)
                return 0
            # Giving the space back is a nicety: another kernel reading the file blocks it.
            with contextlib.suppress(sqlite3.Error):
                db.execute("VACUUM")
            return removed

    def close(self) -> None:
        """Close the file (an open transaction is rolled back first)."""
        with self._lock:
            if self._db is not None:
                self._end_transaction(self._db)
                if self._db is not None:
                    self._drop(self._db)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        stored = "" if self._dtype == "float32" else f", stores {self._dtype}"
        return f"<EmbeddingCache {where}, {len(self._memory)} vectors in memory{stored}>"


_CACHES: dict[str, EmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def get_cache(
    directory: str | os.PathLike[str] | None = None, *, dtype: str | None = None
) -> EmbeddingCache:
    """The shared cache whose file lives in ``directory`` (default: the user cache directory).

    One :class:`EmbeddingCache` per directory per process, so its memory LRU is shared by every
    caller. The directory is made on first write; if it cannot be, the cache stays in memory.
    ``dtype`` (``"float32"`` or ``"int8"``), when given, sets how that cache writes new vectors
    (``%config EmbedMagics.cache_dtype``); None leaves it as it is.

    Raises:
        InvalidInputError: ``directory`` is not a path (a str or os.PathLike), is blank, or
            holds a NUL byte.
    """
    if dtype is not None:
        dtype = check_storage_dtype(dtype)
    if directory is None:
        from .paths import cache_dir

        folder = cache_dir(create=False)
    else:
        folder = _checked_directory(directory)
    try:
        path = folder.expanduser().resolve() / DB_NAME
    except (OSError, RuntimeError) as error:  # a symlink loop, a name too long...
        raise InvalidInputError(f"cache_dir {str(folder)!r} cannot be used: {error}") from None
    with _CACHES_LOCK:
        cache = _CACHES.get(str(path))
        if cache is None:
            cache = _CACHES[str(path)] = EmbeddingCache(path)
        if dtype is not None:
            cache.dtype = dtype
        return cache


def _checked_directory(directory: object) -> Path:
    from .paths import path_text

    text = path_text(directory, "cache_dir", "a directory path")
    if not text.strip():
        raise InvalidInputError("cache_dir is blank; give a directory path, or None for default")
    return Path(text)


def default_cache() -> EmbeddingCache:
    """The cache in the user cache directory (``$EMBED_NB_CACHE_DIR`` or ``~/.cache/embed_nb``)."""
    return get_cache(None)
