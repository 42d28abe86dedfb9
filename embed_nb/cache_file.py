"""The SQLite file behind the cache: opening, transactions, and what a bad file does.

- Every write is one SQLite transaction, always closed (committed or rolled back, or the
  connection dropped when even ``ROLLBACK`` fails), also on ``KeyboardInterrupt``.
- Only real corruption (SQLite's ``SQLITE_CORRUPT``/``SQLITE_NOTADB``, or a failed
  ``quick_check``) moves the file aside as ``.corrupt-*``. A file locked by another kernel, a
  read-only file and a full disk keep the file as it is: the cache skips it (for a while, or
  for writes only) with one :class:`CacheWarning`, and vectors stay in memory.
- Waits for another kernel's lock are bounded by :data:`BUSY_TIMEOUT_MS`, not SQLite's 30 s.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .warn import warn

__all__ = ["BUSY_TIMEOUT_MS", "CacheWarning", "SqliteFile"]

#: How long one read or write waits for another process's lock before skipping the file. Other
#: kernels hold the write lock for milliseconds; a longer hold is a stuck or interrupted writer,
#: and blocking a notebook cell on it would look like a hang.
BUSY_TIMEOUT_MS = 2000
# differs (they would move it aside as corrupt). This version's own table is named by 'layout'.
_LEGACY_SCHEMA = "1"
_LAYOUT = 2
_TABLE = "vectors2"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 11, 13, 26


class CacheWarning(UserWarning):
    """The cache file was set aside as corrupt, or is skipped (locked, read-only, full disk)."""


class _CorruptFile(sqlite3.DatabaseError):
    """The file opened, but SQLite's own check of its pages failed."""


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


class SqliteFile:
    """The file half of :class:`~embed_nb.cache.EmbeddingCache`: a connection opened on first
    use, explicit transactions, and the rules for a locked, read-only, full or corrupt file."""

    path: Path | None

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._db: sqlite3.Connection | None = None
        # time.monotonic() before which the file is not touched at all / not written to.
        self._off_until = 0.0
        self._writes_off_until = 0.0
        self._warned: set[str] = set()

    def _retry_after(self) -> float:
        """Seconds the file is left alone after a lock or I/O problem."""
        return 30.0

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
        now, retry = time.monotonic(), self._retry_after()
        if kind == "busy":
            # A writer's lock still lets us read (WAL); a lock that stops reads stops everything.
            if opening or reading:
                self._off_until = now + retry
            self._writes_off_until = now + retry
            self._warn(
                kind,
                f"the embedding cache {self.path} is locked by another process; "
                f"new vectors stay in memory, the file is tried again in {retry:.0f} s",
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
                self._off_until = now + retry
            self._writes_off_until = now + retry
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
            self._off_until = now + retry
            self._warn(
                "io",
                f"the embedding cache {self.path} failed ({error}); "
                f"new vectors stay in memory, the file is tried again in {retry:.0f} s",
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
        warn(f"embed_nb: {message}", CacheWarning)

    def _writable(self) -> sqlite3.Connection | None:
        if time.monotonic() < self._writes_off_until:
            return None
        db = self._connection()
        if db is not None and db.in_transaction:
            self._end_transaction(db)  # never build on a transaction someone abandoned
            db = self._connection()
        return db
