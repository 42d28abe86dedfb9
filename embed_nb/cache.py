"""A content-addressed store of embeddings: an in-memory LRU in front of a SQLite file.

The key of a vector is a hash of everything that decides it: the model's fingerprint, its
pooling, the normalisation, the truncate/chunk mode (with the context size when either is on)
and the text itself. Re-running a cell therefore finds every vector it made before, in this
kernel or in an earlier one, and a changed model or option never returns a stale one.

Vectors are stored as raw little-endian float32 bytes with their shape (no pickle) and a
BLAKE2b checksum of the whole row. A row whose dtype, shape or checksum does not hold is
dropped and counts as a miss, so it is recomputed rather than returned.

What the file may do to a call, and what it may not:

- Every write is one SQLite transaction, always closed (committed or rolled back, or the
  connection dropped when even ``ROLLBACK`` fails), also on ``KeyboardInterrupt``.
- Only real corruption (SQLite's ``SQLITE_CORRUPT``/``SQLITE_NOTADB``, or a failed
  ``quick_check``) moves the file aside as ``.corrupt-*``. A file locked by another kernel, a
  read-only file and a full disk keep the file as it is: the cache skips it (for a while, or
  for writes only) with one :class:`CacheWarning`, and vectors stay in memory.
- Waits for another kernel's lock are bounded by :data:`BUSY_TIMEOUT_MS`, not SQLite's 30 s.
- The cache never makes an embedding call fail.

The file is shared with older embed_nb versions: their unchecksummed rows live in the
``vectors`` table, which this version neither reads nor changes (except :meth:`clear`); its
rows live in ``vectors2``. An old install therefore keeps working on the same file, and an old
row is never trusted: it is a miss here and is recomputed once.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import signal
import sqlite3
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidInputError

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
#: How long one read or write waits for another process's lock before skipping the file. Other
#: kernels hold the write lock for milliseconds; a longer hold is a stuck or interrupted writer,
#: and blocking a notebook cell on it would look like a hang.
BUSY_TIMEOUT_MS = 2000
#: After a lock or I/O problem, the file is left alone this long before it is tried again.
RETRY_AFTER_S = 30.0

# Part of every key: bumping it would orphan every cached vector, so it only changes when the
# meaning of a key does (not when the storage layout does).
_KEY_VERSION = 1
# meta 'schema' stays '1': versions before the checksummed table refuse a file whose schema row
# differs (they would move it aside as corrupt). This version's own table is named by 'layout'.
_LEGACY_SCHEMA = "1"
_LAYOUT = 2
_TABLE = "vectors2"
_DTYPE = "<f4"
# SQLite allows 32766 host parameters; stay well below for IN (...) look-ups.
_LOOKUP_BATCH = 500
_SHAPE = re.compile(r"\d{1,9}(,\d{1,9})?")

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 11, 13, 26


class CacheWarning(UserWarning):
    """The cache file was set aside as corrupt, or is skipped (locked, read-only, full disk)."""


class _CorruptFile(sqlite3.DatabaseError):
    """The file opened, but SQLite's own check of its pages failed."""


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
    head = f"v{_KEY_VERSION}\x1f{fingerprint}\x1f{pooling}\x1f{normalize}\x1f{mode}\x1f{limit}"
    digest = hashlib.blake2b(head.encode(), digest_size=20)
    digest.update(b"\x1e")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def row_checksum(key: str, dtype: str, shape: str, n_tokens: int, data: bytes) -> bytes:
    """The 16-byte BLAKE2b digest stored with a row, over every column that makes the vector.

    BLAKE2b rather than CRC32: CRC32's 32 bits let one damaged row in four billion through, and
    a cache of millions of rows read over and over gets there; any edit to a row (not only a
    burst of flipped bits) is caught; and at about 1 GB/s it costs ~2 us per 1.5 KB vector,
    nothing beside computing the vector. The key is included, so a row moved under another key
    fails too.
    """
    digest = hashlib.blake2b(digest_size=16, person=b"embed_nb-row-v2")
    digest.update(f"{key}\x1f{dtype}\x1f{shape}\x1f{n_tokens}\x1e".encode())
    digest.update(data)
    return digest.digest()


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Defer SIGINT (KeyboardInterrupt) to the end of the block, then deliver it.

    Python runs signal handlers in the main thread only, so only there can a Ctrl-C interrupt
    the block; elsewhere, or where a handler not set from Python is installed, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)  # now handled as it would have been


def _error_kind(error: BaseException) -> str:
    """``corrupt``, ``busy``, ``readonly``, ``full`` or ``other`` for an error from SQLite."""
    if isinstance(error, _CorruptFile):
        return "corrupt"
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(error).lower()
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or (
        primary is None and ("malformed" in text or "not a database" in text)
    ):
        return "corrupt"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return "busy"
    if primary == _SQLITE_READONLY or "readonly" in text:
        return "readonly"
    if primary == _SQLITE_FULL or "full" in text:
        return "full"
    return "other"


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
        self.dropped_rows = 0
        self._memory: OrderedDict[str, Entry] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        # time.monotonic() before which the file is not touched at all / not written to.
        self._off_until = 0.0
        self._writes_off_until = 0.0
        self._warned: set[str] = set()

    # --- the SQLite file -----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        """The open database, opening (and if it is corrupt, rebuilding) it on first use."""
        if self._db is not None or self.path is None:
            return self._db
        if time.monotonic() < self._off_until:
            return None
        try:
            self._db = self._open()
        except (sqlite3.Error, OSError) as error:
            if not isinstance(error, sqlite3.Error) or _error_kind(error) != "corrupt":
                self._degrade(error, opening=True)
                return None
            self._move_aside(error)
            try:
                self._db = self._open()
            except (sqlite3.Error, OSError) as again:
                self._degrade(again, opening=True)
        return self._db

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,  # autocommit; transactions are explicit, see _transaction
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # The first read: a file that is not a database fails here (SQLITE_NOTADB).
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            # quick_check reads every page: a truncated or damaged file fails here, not later.
            status = db.execute("PRAGMA quick_check").fetchone()
            if status is None or status[0] != "ok":
                raise _CorruptFile(f"integrity check failed: {status[0] if status else None}")
            if not {_TABLE, "meta"} <= tables:
                self._create_tables(db)
            layout = db.execute("SELECT value FROM meta WHERE name = 'layout'").fetchone()
            if layout is None or not layout[0].isdigit() or int(layout[0]) > _LAYOUT:
                # Not damage: a newer embed_nb owns this file. Leave it alone.
                raise sqlite3.OperationalError(
                    f"made by a newer embed_nb (layout {layout[0] if layout else None})"
                )
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                # WAL: readers never wait for a writer, a commit is durable once written, and a
                # crash mid-write rolls back cleanly. Best effort: a read-only file stays as is.
                with contextlib.suppress(sqlite3.OperationalError):
                    db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            db.close()
            raise
        return db

    def _create_tables(self, db: sqlite3.Connection) -> None:
        with self._transaction(db):
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
                " key TEXT PRIMARY KEY,"
                " dtype TEXT NOT NULL,"
                " shape TEXT NOT NULL,"
                " n_tokens INTEGER NOT NULL,"
                " data BLOB NOT NULL,"
                " checksum BLOB NOT NULL,"
                " created REAL NOT NULL"
                ") WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_LEGACY_SCHEMA,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('layout', ?)", (str(_LAYOUT),))

    @contextlib.contextmanager
    def _transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, closed whatever happens in between.

        A Ctrl-C is held until the transaction has committed or rolled back (it lasts
        milliseconds, at most :data:`BUSY_TIMEOUT_MS` waiting for a lock), so it can never
        land between ``BEGIN`` and the clean-up and leave the lock held.
        """
        with _interrupts_held():
            try:
                db.execute("BEGIN IMMEDIATE")
                yield
                db.execute("COMMIT")
            except BaseException:
                self._end_transaction(db)
                raise

    def _end_transaction(self, db: sqlite3.Connection) -> None:
        """Roll back an open transaction; if even that fails, drop the connection.

        Closing a connection discards its transaction, so the lock is released either way and
        no other kernel waits on a transaction this one abandoned (a Ctrl-C, a full disk).
        """
        if not db.in_transaction:
            return
        try:
            db.execute("ROLLBACK")
        except BaseException:  # a second Ctrl-C, or SQLITE_FULL: close instead
            self._drop(db)

    def _drop(self, db: sqlite3.Connection) -> None:
        with contextlib.suppress(BaseException):
            db.close()
        if self._db is db:
            self._db = None

    def _move_aside(self, error: BaseException) -> None:
        """Rename a corrupt database (and its WAL files) so a fresh one can be built."""
        assert self.path is not None
        if self._db is not None:
            self._drop(self._db)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                with contextlib.suppress(OSError):
                    source.replace(f"{aside}{suffix}")
        self._warn(
            "corrupt",
            f"the embedding cache {self.path} is damaged ({error}); "
            f"moved it to {aside.name} and started an empty cache",
            always=True,
        )

    def _degrade(
        self, error: BaseException, *, opening: bool = False, reading: bool = False
    ) -> None:
        """Skip the file for a while (or its writes), keeping it as it is, with one warning."""
        kind = _error_kind(error) if isinstance(error, sqlite3.Error) else "other"
        now = time.monotonic()
        if kind == "busy":
            # A writer's lock still lets us read (WAL); a lock that stops reads stops everything.
            if opening or reading:
                self._off_until = now + RETRY_AFTER_S
            self._writes_off_until = now + RETRY_AFTER_S
            self._warn(
                kind,
                f"the embedding cache {self.path} is locked by another process; "
                f"new vectors stay in memory, the file is tried again in {RETRY_AFTER_S:.0f} s",
            )
        elif kind == "readonly":
            if opening:  # the file's tables could not even be made: nothing to read either
                self._off_until = math.inf
            self._writes_off_until = math.inf
            self._warn(
                kind,
                f"the embedding cache {self.path} is read-only; "
                "new vectors stay in memory for this session",
            )
        elif kind == "full":
            if opening:
                self._off_until = now + RETRY_AFTER_S
            self._writes_off_until = now + RETRY_AFTER_S
            self._warn(
                kind,
                f"the disk holding the embedding cache {self.path} is full; new vectors stay "
                "in memory (free some space, or set another cache_dir)",
            )
        elif opening:
            self._off_until = math.inf
            self._warn(
                "other",
                f"cannot use the embedding cache file {self.path} ({error}); "
                "caching in memory only for this session",
            )
        else:
            if self._db is not None:
                self._drop(self._db)
            self._off_until = now + RETRY_AFTER_S
            self._warn(
                "io",
                f"the embedding cache {self.path} failed ({error}); "
                f"new vectors stay in memory, the file is tried again in {RETRY_AFTER_S:.0f} s",
            )

    def _on_disk_error(self, error: sqlite3.Error, *, reading: bool = False) -> None:
        """A read or write failed after the file was opened."""
        if _error_kind(error) == "corrupt":
            self._move_aside(error)
        else:
            self._degrade(error, reading=reading)

    def _warn(self, kind: str, message: str, *, always: bool = False) -> None:
        # One line per kind of trouble per session: a locked file must not warn on every cell.
        if kind in self._warned and not always:
            return
        self._warned.add(kind)
        warnings.warn(f"embed_nb: {message}", CacheWarning, stacklevel=5)

    def _writable(self) -> sqlite3.Connection | None:
        if time.monotonic() < self._writes_off_until:
            return None
        db = self._connection()
        if db is not None and db.in_transaction:
            self._end_transaction(db)  # never build on a transaction someone abandoned
            db = self._connection()
        return db

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
                entry = _decode(key, dtype, shape, n_tokens, data, checksum, dim)
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

        A vector that is not a finite 1-D or 2-D float array is not cached at all.
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
                array.flags.writeable = False
                self._remember(key, Entry(array, int(n_tokens)))
                shape = ",".join(str(n) for n in array.shape)
                data = array.tobytes()
                checksum = row_checksum(key, _DTYPE, shape, int(n_tokens), data)
                rows.append((key, _DTYPE, shape, int(n_tokens), data, checksum, now))
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
        return f"<EmbeddingCache {where}, {len(self._memory)} vectors in memory>"


def _decode(
    key: str,
    dtype: object,
    shape: object,
    n_tokens: object,
    data: object,
    checksum: object,
    dim: int | None,
) -> Entry | None:
    """The entry a stored row holds, or None when any check fails (a miss, recomputed)."""
    import numpy as np

    if dtype != _DTYPE or not isinstance(shape, str) or not isinstance(data, bytes):
        return None
    if type(n_tokens) is not int or n_tokens < 0 or not isinstance(checksum, bytes):
        return None
    if checksum != row_checksum(key, dtype, shape, n_tokens, data):
        return None
    if not _SHAPE.fullmatch(shape):
        return None
    dims = tuple(int(n) for n in shape.split(","))
    if not dims[-1] or math.prod(dims) * 4 != len(data):
        return None
    if dim is not None and dims[-1] != dim:
        return None
    vector = np.frombuffer(data, dtype=_DTYPE).reshape(dims)  # read-only: bytes are immutable
    if not np.isfinite(vector).all():
        return None
    return Entry(vector, n_tokens)


_CACHES: dict[str, EmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def get_cache(directory: str | os.PathLike[str] | None = None) -> EmbeddingCache:
    """The shared cache whose file lives in ``directory`` (default: the user cache directory).

    One :class:`EmbeddingCache` per directory per process, so its memory LRU is shared by every
    caller. The directory is made on first write; if it cannot be, the cache stays in memory.

    Raises:
        InvalidInputError: ``directory`` is not a path (a str or os.PathLike), is blank, or
            holds a NUL byte.
    """
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
