"""A content-addressed store of embeddings: an in-memory LRU in front of a SQLite file.

The key of a vector is a hash of everything that decides it: the model's fingerprint, its
pooling, the normalisation, the truncate/chunk mode (with the context size when either is on)
and the text itself. Re-running a cell therefore finds every vector it made before, in this
kernel or in an earlier one, and a changed model or option never returns a stale one.

Vectors are stored as raw little-endian float32 bytes with their shape (no pickle). Every write
is one SQLite transaction, so a kernel killed mid-write keeps everything committed before it.
A database that SQLite cannot read (corrupt, truncated, not a database) is moved aside with a
warning and rebuilt empty; the cache never makes an embedding call fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CacheInfo",
    "CacheWarning",
    "EmbeddingCache",
    "cache_key",
    "default_cache",
    "get_cache",
]

#: File name of the cache database inside the cache directory.
DB_NAME = "embeddings.sqlite"
#: Bytes of vectors kept in memory by default (the SQLite file has no limit).
DEFAULT_MEMORY_BYTES = 256 * 2**20
_SCHEMA_VERSION = 1
# SQLite allows 32766 host parameters; stay well below for IN (...) look-ups.
_LOOKUP_BATCH = 500


class CacheWarning(UserWarning):
    """The cache file was unreadable and has been rebuilt, or the cache had to be turned off."""


def cache_key(
    fingerprint: str,
    pooling: str,
    normalize: int,
    text: str,
    *,
    truncate: bool = False,
    chunk: bool = False,
    max_tokens: int | None = None,
) -> str:
    """The content address of one text's vector under one model and set of options.

    ``max_tokens`` only enters the key when ``truncate`` or ``chunk`` is on: it decides where a
    long text is cut or windowed, and nothing else.
    """
    mode = "truncate" if truncate else "chunk" if chunk else "strict"
    limit = str(max_tokens) if (truncate or chunk) else ""
    head = f"v{_SCHEMA_VERSION}\x1f{fingerprint}\x1f{pooling}\x1f{normalize}\x1f{mode}\x1f{limit}"
    digest = hashlib.blake2b(head.encode(), digest_size=20)
    digest.update(b"\x1e")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    """What :meth:`EmbeddingCache.info` reports."""

    path: str | None
    entries: int
    disk_bytes: int
    memory_entries: int
    memory_bytes: int
    memory_limit: int
    hits: int
    misses: int
    enabled: bool

    def __repr__(self) -> str:
        rows = {
            "file": self.path or "(memory only)",
            "entries on disk": f"{self.entries:,}",
            "file size": f"{self.disk_bytes / 2**20:.1f} MiB",
            "in memory": f"{self.memory_entries:,} vectors, {self.memory_bytes / 2**20:.1f} MiB"
            f" of {self.memory_limit / 2**20:.0f} MiB",
            "this session": f"{self.hits:,} hits, {self.misses:,} misses",
        }
        if not self.enabled:
            rows["state"] = "off"
        width = max(map(len, rows))
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows.items())


@dataclass(frozen=True)
class Entry:
    """One cached result: a float32 array (``(d,)``, or ``(n_tokens, d)`` for pooling none)."""

    vector: np.ndarray
    n_tokens: int


class EmbeddingCache:
    """Vectors by content key, in memory (LRU, bounded in bytes) and in a SQLite file.

    Args:
        path: the SQLite file; ``None`` keeps the cache in memory only.
        memory_bytes: how many bytes of vectors the in-memory LRU holds.

    Safe to share between threads; several kernels may share one file.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None, *, memory_bytes: int = DEFAULT_MEMORY_BYTES
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.memory_limit = memory_bytes
        self.hits = 0
        self.misses = 0
        self._memory: OrderedDict[str, Entry] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._disk_failed = False

    # --- the SQLite file -----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        """The open database, opening (and if need be rebuilding) it on first use."""
        if self._db is not None or self.path is None or self._disk_failed:
            return self._db
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:
            self._move_aside(error)
            try:
                self._db = self._open()
            except (sqlite3.Error, OSError) as again:
                self._give_up_disk(again)
        except (sqlite3.Error, OSError) as error:  # unwritable directory, locked file...
            self._give_up_disk(error)
        return self._db

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            # quick_check reads every page: a truncated or damaged file fails here, not later.
            status = db.execute("PRAGMA quick_check").fetchone()
            if status is None or status[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {status}")
            # WAL: a commit is durable once written, and a crash mid-write rolls back cleanly.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " key TEXT PRIMARY KEY,"
                " dtype TEXT NOT NULL,"
                " shape TEXT NOT NULL,"
                " n_tokens INTEGER NOT NULL,"
                " data BLOB NOT NULL,"
                " created REAL NOT NULL"
                ") WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),))
            schema = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if schema is None or schema[0] != str(_SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"unknown cache schema {schema}")
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, error: BaseException) -> None:
        """Rename an unreadable database (and its WAL files) so a fresh one can be built."""
        assert self.path is not None
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                with contextlib.suppress(OSError):
                    source.replace(f"{aside}{suffix}")
        warnings.warn(
            f"embed_nb: the embedding cache {self.path} could not be read ({error}); "
            f"moved it to {aside.name} and started an empty cache",
            CacheWarning,
            stacklevel=4,
        )

    def _give_up_disk(self, error: BaseException) -> None:
        self._disk_failed = True
        self._db = None
        warnings.warn(
            f"embed_nb: cannot use the embedding cache file {self.path} ({error}); "
            "caching in memory only for this session",
            CacheWarning,
            stacklevel=4,
        )

    def _on_disk_error(self, error: sqlite3.DatabaseError) -> None:
        """A read or write found the file damaged after it was opened: rebuild it."""
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            return  # another kernel holds the file; skip the disk this time
        self._move_aside(error)

    # --- reading and writing -------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, Entry]:
        """The cached entries among ``keys`` (memory first, then the file)."""
        import numpy as np

        found: dict[str, Entry] = {}
        with self._lock:
            missing = []
            for key in keys:
                entry = self._memory.get(key)
                if entry is None:
                    missing.append(key)
                else:
                    self._memory.move_to_end(key)
                    found[key] = entry
            db = self._connection() if missing else None
            if db is not None:
                unique = list(dict.fromkeys(missing))
                try:
                    for start in range(0, len(unique), _LOOKUP_BATCH):
                        batch = unique[start : start + _LOOKUP_BATCH]
                        marks = ",".join("?" * len(batch))
                        rows = db.execute(
                            "SELECT key, dtype, shape, n_tokens, data FROM vectors "
                            f"WHERE key IN ({marks})",
                            batch,
                        ).fetchall()
                        for key, dtype, shape, n_tokens, data in rows:
                            dims = tuple(int(x) for x in shape.split(",") if x)
                            vector = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(dims)
                            entry = Entry(vector, int(n_tokens))
                            found[key] = entry
                            self._remember(key, entry)
                except sqlite3.DatabaseError as error:
                    self._on_disk_error(error)
            hits = sum(1 for key in keys if key in found)
            self.hits += hits
            self.misses += len(keys) - hits
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray, int]]) -> None:
        """Store ``(key, vector, n_tokens)`` items in memory and in one file transaction."""
        import numpy as np

        rows = []
        now = time.time()
        with self._lock:
            for key, vector, n_tokens in items:
                array = np.array(vector, dtype="<f4", copy=True)
                array.flags.writeable = False
                self._remember(key, Entry(array, int(n_tokens)))
                shape = ",".join(str(n) for n in array.shape)
                rows.append((key, "<f4", shape, int(n_tokens), array.tobytes(), now))
            db = self._connection()
            if db is None or not rows:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?,?)", rows)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.DatabaseError as error:
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
                    entries = int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
                except sqlite3.DatabaseError as error:
                    self._on_disk_error(error)
            disk = 0
            if self.path is not None:
                for suffix in ("", "-wal"):
                    with contextlib.suppress(OSError):
                        disk += os.path.getsize(f"{self.path}{suffix}")
            return CacheInfo(
                path=str(self.path) if self.path is not None and not self._disk_failed else None,
                entries=entries,
                disk_bytes=disk,
                memory_entries=len(self._memory),
                memory_bytes=self._memory_bytes,
                memory_limit=self.memory_limit,
                hits=self.hits,
                misses=self.misses,
                enabled=True,
            )

    def clear(self) -> int:
        """Forget every vector, in memory and on disk; returns how many were on disk."""
        with self._lock:
            self._memory.clear()
            self._memory_bytes = 0
            removed = 0
            db = self._connection()
            if db is not None:
                try:
                    removed = int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
                    db.execute("DELETE FROM vectors")
                    db.execute("VACUUM")
                except sqlite3.DatabaseError as error:
                    self._on_disk_error(error)
            return removed

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        return f"<EmbeddingCache {where}, {len(self._memory)} vectors in memory>"


_CACHES: dict[str, EmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def get_cache(directory: str | os.PathLike[str] | None = None) -> EmbeddingCache:
    """The shared cache whose file lives in ``directory`` (default: the user cache directory).

    One :class:`EmbeddingCache` per directory per process, so its memory LRU is shared by every
    caller.
    """
    if directory is None:
        from .paths import cache_dir

        directory = cache_dir()
    path = Path(directory).expanduser().resolve() / DB_NAME
    with _CACHES_LOCK:
        cache = _CACHES.get(str(path))
        if cache is None:
            cache = _CACHES[str(path)] = EmbeddingCache(path)
        return cache


def default_cache() -> EmbeddingCache:
    """The cache in the user cache directory (``$EMBED_NB_CACHE_DIR`` or ``~/.cache/embed_nb``)."""
    return get_cache(None)
