"""The embedding cache under hostile conditions, on real SQLite files and real processes.

After every case: the original file is still there with its rows, no ``.corrupt-*`` file
appears, and embedding through the cache still succeeds. Only a damaged file may be moved
aside (tests/test_cache.py shows that it is).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mounts import small_tmpfs
from signals import default_sigint

import embed_nb
from embed_nb import cache as cache_module
from embed_nb.cache import (
    BUSY_TIMEOUT_MS,
    CacheWarning,
    EmbeddingCache,
    cache_key,
    get_cache,
    row_checksum,
)
from embed_nb.errors import InvalidInputError

_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@contextlib.contextmanager
def _sql(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, committed and closed at the end (sqlite3's own ``with`` only commits)."""
    db = sqlite3.connect(path)
    try:
        with db:
            yield db
    finally:
        db.close()


def _vector(seed: int, d: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(d).astype(np.float32)


def _keys(n: int, prefix: str = "t") -> list[str]:
    return [cache_key("fp", "mean", 2, f"{prefix}{i}") for i in range(n)]


def _filled(path: Path, n: int = 50) -> list[str]:
    keys = _keys(n)
    cache = EmbeddingCache(path)
    cache.put_many((key, _vector(i), i + 1) for i, key in enumerate(keys))
    cache.close()
    return keys


def _assert_intact(path: Path, keys: list[str]) -> None:
    """The file is where it was, with every row, checks out, and nothing was set aside."""
    assert path.is_file()
    assert not [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]
    with _sql(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = EmbeddingCache(path)
        got = fresh.get_many(keys)
        fresh.close()
    assert set(got) == set(keys)
    for i, key in enumerate(keys):
        np.testing.assert_array_equal(got[key].vector, _vector(i))


def _lock_is_free(path: Path) -> bool:
    """Whether another connection can take the write lock at once."""
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


@pytest.fixture(scope="module")
def model(bert_mean_path: Path) -> Iterator[Any]:
    with embed_nb.load_model(bert_mean_path) as loaded:
        yield loaded


def _embeds(cache: EmbeddingCache, model: Any, tag: str) -> None:
    texts = [f"{tag} the cat sat", f"{tag} a dog ran", f"{tag} python code"]
    result = np.asarray(embed_nb.embed(texts, model=model, cache=cache))
    assert result.shape[0] == 3 and np.isfinite(result).all()
    again = np.asarray(embed_nb.embed(texts, model=model, cache=cache))
    np.testing.assert_array_equal(result, again)


@pytest.fixture
def no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "RETRY_AFTER_S", 0.0)


# --------------------------------------------------------------------------------------------
# another process holds a lock

_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "exclusive":
        # Blocks readers too: the lock on the file is kept after the write commits.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("CREATE TABLE IF NOT EXISTS holder (x)")
        db.execute("COMMIT")
    else:
        db.execute("BEGIN IMMEDIATE")  # the write lock, as a kernel stuck mid-write holds it
    print("held", flush=True)
    sys.stdin.read()
    """
)


@contextlib.contextmanager
def _lock_held(path: Path, mode: str) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_write_lock_held_by_another_process_skips_writes_quickly(
    tmp_path: Path, model: Any, no_retry_wait: None
) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    cache = EmbeddingCache(path)
    with _lock_held(path, "write"):
        assert len(cache.get_many(keys)) == len(keys)  # WAL: readers never wait for a writer
        start = time.monotonic()
        with pytest.warns(CacheWarning, match="locked by another process"):
            cache.put_many([(cache_key("fp", "mean", 2, "new"), _vector(99), 1)])
        waited = time.monotonic() - start
        assert waited < BUSY_TIMEOUT_MS / 1000 + 3, "a lock must not hang the notebook"
        _embeds(cache, model, "locked")
    # The lock is gone: the next write reaches the file again.
    cache.put_many([(cache_key("fp", "mean", 2, "later"), _vector(98), 1)])
    assert len(EmbeddingCache(path).get_many([cache_key("fp", "mean", 2, "later")])) == 1
    cache.close()
    _assert_intact(path, keys)


def test_a_lock_that_blocks_readers_too_degrades_at_open(tmp_path: Path, model: Any) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    with _lock_held(path, "exclusive"):
        cache = EmbeddingCache(path)
        start = time.monotonic()
        with pytest.warns(CacheWarning, match="locked by another process"):
            assert cache.get_many(keys) == {}
        assert time.monotonic() - start < BUSY_TIMEOUT_MS / 1000 + 3
        _embeds(cache, model, "exclusive")  # memory only, and quiet: one warning per session
        cache.close()
    _assert_intact(path, keys)


# --------------------------------------------------------------------------------------------
# a read-only file


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    if os.geteuid() == 0:
        # Root ignores permission bits; the immutable attribute stops even root (ext4, tmpfs).
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here, and root ignores chmod")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


def test_a_read_only_file_is_kept_and_writes_stay_in_memory(tmp_path: Path, model: Any) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    with _read_only(path):
        cache = EmbeddingCache(path)
        with pytest.warns(CacheWarning) as caught:
            cache.put_many([(cache_key("fp", "mean", 2, "new"), _vector(99), 1)])
            _embeds(cache, model, "read-only")
        assert all("damaged" not in str(w.message) for w in caught)
        assert cache.get_many([cache_key("fp", "mean", 2, "new")])  # kept in memory
        cache.close()
        assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    _assert_intact(path, keys)


# --------------------------------------------------------------------------------------------
# a full disk


def test_a_full_database_keeps_its_rows_and_closes_the_transaction(
    tmp_path: Path, model: Any
) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    cache = EmbeddingCache(path)
    db = cache._connection()
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL, for real
    more = _keys(500, prefix="more")
    with pytest.warns(CacheWarning, match="is full"):
        cache.put_many((key, _vector(1000 + i), 1) for i, key in enumerate(more))
    assert len(cache.get_many(more)) == len(more)  # in memory
    assert cache._db is None or not cache._db.in_transaction
    assert _lock_is_free(path)
    _embeds(cache, model, "full")
    cache.close()
    _assert_intact(path, keys)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    # Without root, SQLITE_FULL is still tested above through max_page_count.
    with small_tmpfs(tmp_path / "tmpfs", "256k") as where:
        yield where


def test_a_really_full_disk_degrades_without_moving_the_file(tiny_tmpfs: Path, model: Any) -> None:
    path = tiny_tmpfs / "c.sqlite"
    keys = _filled(path, 20)
    cache = EmbeddingCache(path)
    with pytest.warns(CacheWarning, match="full"):
        for batch in range(200):  # 256 KiB fill up long before this ends
            rows = [(key, _vector(i, 64), 1) for i, key in enumerate(_keys(50, f"b{batch}-"))]
            cache.put_many(rows)
            if cache._writes_off_until > time.monotonic():
                break
    assert cache._db is None or not cache._db.in_transaction
    _embeds(cache, model, "disk-full")
    cache.close()
    _assert_intact(path, keys)


# --------------------------------------------------------------------------------------------
# interrupted and failing transactions


class _Failing:
    """A real connection whose ``executemany`` (and optionally ROLLBACK) raise."""

    def __init__(self, db: sqlite3.Connection, error: BaseException, rollback_fails: bool) -> None:
        self._db, self._error, self._rollback_fails = db, error, rollback_fails

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "ROLLBACK" and self._rollback_fails:
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        self._db.execute("INSERT OR REPLACE INTO vectors2 SELECT * FROM vectors2 LIMIT 1")
        raise self._error

    def close(self) -> None:
        self._db.close()


@pytest.mark.parametrize(
    ("error", "rollback_fails"),
    [
        (KeyboardInterrupt(), False),
        (KeyboardInterrupt(), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError("disk I/O error"), False),
    ],
    ids=["ctrl-c", "ctrl-c-rollback-fails", "full-rollback-fails", "io-error"],
)
def test_a_failed_write_always_closes_its_transaction(
    tmp_path: Path, model: Any, error: BaseException, rollback_fails: bool, no_retry_wait: None
) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    cache = EmbeddingCache(path)
    real = cache._connection()
    assert real is not None
    cache._db = _Failing(real, error, rollback_fails)  # type: ignore[assignment]
    item = [(cache_key("fp", "mean", 2, "x"), _vector(7), 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        if isinstance(error, KeyboardInterrupt):
            with pytest.raises(KeyboardInterrupt):
                cache.put_many(item)
        else:
            cache.put_many(item)  # never raises: the vector stays in memory
    assert cache._db is None or not real.in_transaction  # closed, or rolled back
    assert _lock_is_free(path), "the abandoned transaction still holds the write lock"
    if cache._db is not None:  # kept (the rollback worked): let it fail no more
        assert not rollback_fails
        cache._db = real
    # The cache carries on: writes reach the file again, embeds work.
    cache.put_many([(cache_key("fp", "mean", 2, "after"), _vector(8), 1)])
    assert EmbeddingCache(path).get_many([cache_key("fp", "mean", 2, "after")])
    _embeds(cache, model, "after-failure")
    cache.close()
    _assert_intact(path, keys)


_INTERRUPTED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from embed_nb.cache import EmbeddingCache, cache_key

    cache = EmbeddingCache(sys.argv[1])
    stop, log = sys.argv[2], open(sys.argv[3], "a", buffering=1)
    state = {"batch": 0}

    def work():
        while not os.path.exists(stop):
            batch = state["batch"]
            state["batch"] += 1
            keys = [cache_key("fp", "mean", 2, f"w{batch}-{i}") for i in range(100)]
            cache.put_many((k, np.full(16, batch, np.float32), batch) for k in keys)
            log.write(f"{batch}\\n")  # committed

    announced = False
    while True:  # the user presses Ctrl-C, and runs the cell again
        try:
            try:
                if not announced:  # inside the handlers: a Ctrl-C may follow at once
                    announced = True
                    print("ready", flush=True)
                work()
                break
            except KeyboardInterrupt:
                log.write("interrupted\\n")
        except KeyboardInterrupt:  # a Ctrl-C inside the handler
            pass
    """
)


def test_dense_ctrl_c_during_writes_never_moves_the_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    stop, log = tmp_path / "stop", tmp_path / "log"
    writer = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_WRITER, str(path), str(stop), str(log)],
        stdout=subprocess.PIPE,
        env=_ENV,
        preexec_fn=default_sigint,
    )
    other_kernel = EmbeddingCache(path)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 4
        n = 0
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the other kernel must never see a problem
            while time.monotonic() < deadline and writer.poll() is None:
                writer.send_signal(signal.SIGINT)
                time.sleep(0.02)
                other_kernel.put_many([(cache_key("fp", "mean", 2, f"o{n}"), _vector(n), 1)])
                n += 1
        stop.touch()
        # A Ctrl-C that lands in the script's own handler may end it: not what is tested here.
        writer.wait(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    lines = log.read_text().splitlines()
    done = [int(line) for line in lines if line.isdigit()]
    assert done and lines.count("interrupted") > 10, lines[-5:]
    other_kernel.close()
    _assert_intact(path, keys)
    assert _lock_is_free(path)
    check = EmbeddingCache(path)
    for batch in done:
        got = check.get_many([cache_key("fp", "mean", 2, f"w{batch}-{i}") for i in range(100)])
        assert len(got) == 100  # every batch the writer saw committed is there, whole
    assert len(check.get_many([cache_key("fp", "mean", 2, f"o{i}") for i in range(n)])) == n


def test_a_writer_killed_holding_the_lock_does_not_block_or_damage(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), "write"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert _lock_is_free(path)  # the OS dropped the dead process's lock
    _assert_intact(path, keys)


# --------------------------------------------------------------------------------------------
# rows that cannot be trusted


def _rows(path: Path) -> dict[str, tuple[Any, ...]]:
    with _sql(path) as db:
        return {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT key, dtype, shape, n_tokens, data, checksum FROM vectors2"
            )
        }


def _flip(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bytes):
        raw = bytearray(value)
        bit = rng.randrange(len(raw) * 8)
        raw[bit // 8] ^= 1 << (bit % 8)
        return bytes(raw)
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(8))
    text = bytearray(value.encode())
    text[rng.randrange(len(text))] ^= 1 << rng.randrange(7)
    return text.decode("latin-1")


def test_every_bit_flip_is_caught_dropped_and_recomputed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path, 40)
    rng = random.Random(9)
    columns = ["dtype", "shape", "n_tokens", "data", "data", "data", "checksum"]
    flipped = {}
    with _sql(path) as db:
        for key in keys:
            column = rng.choice(columns)
            (value,) = db.execute(f"SELECT {column} FROM vectors2 WHERE key = ?", (key,)).fetchone()
            db.execute(f"UPDATE vectors2 SET {column} = ? WHERE key = ?", (_flip(value, rng), key))
            flipped[key] = column
    cache = EmbeddingCache(path)
    with pytest.warns(CacheWarning, match="dropped 40 damaged"):
        assert cache.get_many(keys) == {}  # 40 of 40 caught, none returned wrong
    assert _rows(path) == {}  # dropped from the file, so the next run does not trip again
    # Recomputed and stored again: they heal.
    cache.put_many((key, _vector(i), i + 1) for i, key in enumerate(keys))
    cache.close()
    _assert_intact(path, keys)


def _forge(path: Path, key: str, **columns: Any) -> None:
    """Store a row whose checksum matches its (wrong) content: only the other checks can tell."""
    row = dict(zip(("dtype", "shape", "n_tokens", "data"), _rows(path)[key][:4], strict=True))
    row.update(columns)
    checksum = row_checksum(key, row["dtype"], row["shape"], row["n_tokens"], row["data"])
    with _sql(path) as db:
        db.execute(
            "UPDATE vectors2 SET dtype = ?, shape = ?, n_tokens = ?, data = ?, checksum = ? "
            "WHERE key = ?",
            (row["dtype"], row["shape"], row["n_tokens"], row["data"], checksum, key),
        )


@pytest.mark.parametrize(
    "columns",
    [
        {"dtype": "<f8"},  # another dtype: would read as 8 float64 values
        {"dtype": "|O"},
        {"shape": "4,4", "dim": 16},  # the same size in another layout: needs the dimension
        {"shape": "32"},  # more elements than bytes
        {"shape": "abc"},
        {"shape": "16,"},
        {"shape": "0"},
        {"n_tokens": -3},
        {"data": b"\x00" * 63},
        {"data": np.full(16, np.nan, np.float32).tobytes()},
    ],
    ids=repr,
)
def test_malformed_rows_are_misses_and_heal(
    tmp_path: Path, model: Any, columns: dict[str, Any]
) -> None:
    """Rows whose checksum was forged to match: dtype, shape and value checks still hold."""
    columns = dict(columns)
    path = tmp_path / "c.sqlite"
    keys = _filled(path, 3)
    dim = columns.pop("dim", None)
    _forge(path, keys[1], **columns)
    cache = EmbeddingCache(path)
    for _ in range(2):  # never raises, the first time or any later one
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            got = cache.get_many(keys, dim=dim)
        assert set(got) == {keys[0], keys[2]}
    cache.put_many([(keys[1], _vector(1), 2)])
    _embeds(cache, model, "malformed")
    cache.close()
    _assert_intact(path, keys)


def test_wrongly_typed_columns_are_misses(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path, 2)
    with _sql(path) as db:  # SQLite columns take any type
        db.execute("UPDATE vectors2 SET n_tokens = 'many', data = 'text' WHERE key = ?", (keys[0],))
        db.execute("UPDATE vectors2 SET shape = 16, checksum = 'x' WHERE key = ?", (keys[1],))
    with pytest.warns(CacheWarning, match="dropped 2"):
        assert EmbeddingCache(path).get_many(keys) == {}


def test_a_row_of_another_dimension_is_a_miss_when_the_dimension_is_known(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path, 2)
    cache = EmbeddingCache(path)
    assert len(cache.get_many(keys, dim=16)) == 2
    other = EmbeddingCache(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert other.get_many(keys, dim=32) == {}
        assert cache.get_many(keys, dim=32) == {}  # the memory copy is checked too


def test_non_finite_vectors_are_never_cached(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    bad = np.array([1.0, np.nan, 2.0], np.float32)
    key = cache_key("fp", "mean", 2, "nan")
    cache.put_many([(key, bad, 1), (cache_key("fp", "mean", 2, "ok"), _vector(1), 1)])
    assert cache.get_many([key]) == {}
    assert len(_rows(tmp_path / "c.sqlite")) == 1


# --------------------------------------------------------------------------------------------
# files of other embed_nb versions


_V1_DDL = (
    "CREATE TABLE vectors (key TEXT PRIMARY KEY, dtype TEXT NOT NULL, shape TEXT NOT NULL,"
    " n_tokens INTEGER NOT NULL, data BLOB NOT NULL, created REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT INTO meta VALUES ('schema', '1')",
)


def _v1_file(path: Path, keys: list[str]) -> None:
    with _sql(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        for statement in _V1_DDL:
            db.execute(statement)
        db.executemany(
            "INSERT INTO vectors VALUES (?,?,?,?,?,?)",
            [(key, "<f4", "16", 1, _vector(i).tobytes(), 0.0) for i, key in enumerate(keys)],
        )


def test_a_v1_cache_is_migrated_in_place_and_old_versions_keep_using_it(
    tmp_path: Path, model: Any
) -> None:
    path = tmp_path / "c.sqlite"
    old_keys = _keys(5, "old")
    _v1_file(path, old_keys)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not "damaged", not moved aside
        cache = EmbeddingCache(path)
        # Unchecksummed rows are never trusted: misses, recomputed once.
        assert cache.get_many(old_keys) == {}
        keys = _keys(3)
        cache.put_many((key, _vector(i), i + 1) for i, key in enumerate(keys))
        _embeds(cache, model, "migrated")
        cache.close()
    _assert_intact(path, keys)
    with _sql(path) as db:
        # The v1 rows are still there for a v1 install sharing the file, and what a v1 install
        # does on open and on write still works: its schema row and its 6-column table.
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 5
        assert db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0] == "1"
        db.execute(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?,?)",
            ("k", "<f4", "1", 1, b"\0" * 4, 0.0),
        )
    cache = EmbeddingCache(path)
    assert cache.clear() == 6  # 3 rows put, 3 embedded
    with _sql(path) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0


def test_a_file_of_a_newer_layout_is_left_alone(tmp_path: Path, model: Any) -> None:
    path = tmp_path / "c.sqlite"
    keys = _filled(path, 3)
    with _sql(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'layout'")
    cache = EmbeddingCache(path)
    with pytest.warns(CacheWarning, match="newer embed_nb"):
        assert cache.get_many(keys) == {}
    _embeds(cache, model, "newer")
    assert path.is_file() and not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    with _sql(path) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors2").fetchone()[0] == 3


# --------------------------------------------------------------------------------------------
# cache_dir values


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        ("a\0b", "NUL byte"),
        (123, "not int"),
        (b"/tmp/x", "not bytes"),
        (["/tmp"], "not list"),
        ("   ", "blank"),
    ],
    ids=["nul", "int", "bytes", "list", "blank"],
)
def test_get_cache_refuses_what_is_not_a_directory_in_one_line(
    directory: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        get_cache(directory)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_the_default_cache_never_fails_on_an_unusable_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Any
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(blocker / "cache"))
    cache = get_cache()
    with pytest.warns(CacheWarning, match="memory only"):
        _embeds(cache, model, "no-home")
