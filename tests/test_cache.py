"""embed_nb.cache on real SQLite files: keys, LRU, raw storage, corruption, killed writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from embed_nb.cache import CacheWarning, EmbeddingCache, cache_key, get_cache, row_checksum


def _vector(seed: int, shape: tuple[int, ...] = (16,)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _fill(cache: EmbeddingCache, n: int, prefix: str = "t") -> list[str]:
    keys = [cache_key("fp", "mean", 2, f"{prefix}{i}") for i in range(n)]
    cache.put_many((key, _vector(i), i + 1) for i, key in enumerate(keys))
    return keys


def test_key_depends_on_every_option() -> None:
    base = cache_key("fp", "mean", 2, "text")
    assert base == cache_key("fp", "mean", 2, "text")
    variants = {
        cache_key("fp2", "mean", 2, "text"),
        cache_key("fp", "cls", 2, "text"),
        cache_key("fp", "mean", 1, "text"),
        cache_key("fp", "mean", 2, "text "),
        cache_key("fp", "mean", 2, "text", truncate=True, max_tokens=512),
        cache_key("fp", "mean", 2, "text", chunk=True, max_tokens=512),
        cache_key("fp", "mean", 2, "text", truncate=True, max_tokens=256),
    }
    assert base not in variants and len(variants) == 7
    # The context size only matters when it decides a cut.
    assert cache_key("fp", "mean", 2, "text", max_tokens=512) == base


def test_round_trip_in_memory_and_from_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path)
    keys = _fill(cache, 5)
    tokens_key = cache_key("fp", "none", -1, "tokens")
    per_token = _vector(99, (7, 16))
    cache.put_many([(tokens_key, per_token, 7)])
    got = cache.get_many(keys)
    np.testing.assert_array_equal(got[keys[3]].vector, _vector(3))
    cache.close()

    again = EmbeddingCache(path)
    got = again.get_many([*keys, tokens_key, "missing"])
    assert set(got) == {*keys, tokens_key}
    for i, key in enumerate(keys):
        np.testing.assert_array_equal(got[key].vector, _vector(i))
        assert got[key].n_tokens == i + 1
        assert got[key].vector.dtype == np.float32
    np.testing.assert_array_equal(got[tokens_key].vector, per_token)
    assert got[tokens_key].vector.shape == (7, 16)
    assert again.hits == 6 and again.misses == 1


def test_vectors_are_stored_as_raw_float32_bytes_with_their_shape(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path)
    key = cache_key("fp", "mean", 2, "raw")
    vector = _vector(7, (3, 4))
    cache.put_many([(key, vector, 3)])
    cache.close()
    with sqlite3.connect(path) as db:
        dtype, shape, n_tokens, data, checksum = db.execute(
            "SELECT dtype, shape, n_tokens, data, checksum FROM vectors2 WHERE key = ?", (key,)
        ).fetchone()
    assert (dtype, shape, n_tokens) == ("<f4", "3,4", 3)
    assert data == vector.astype("<f4").tobytes()  # no pickle, no header
    assert checksum == row_checksum(key, dtype, shape, n_tokens, data)


def test_cached_arrays_cannot_be_changed_through_a_result(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    key = cache_key("fp", "mean", 2, "x")
    vector = _vector(1)
    cache.put_many([(key, vector, 1)])
    vector[:] = 0  # the caller's array is not the cached one
    entry = cache.get_many([key])[key]
    assert not entry.vector.flags.writeable
    np.testing.assert_array_equal(entry.vector, _vector(1))


def test_memory_is_bounded_but_the_file_keeps_everything(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite", memory_bytes=16 * 4 * 3)  # three vectors
    keys = _fill(cache, 10)
    info = cache.info()
    assert info.memory_entries == 3 and info.entries == 10
    got = cache.get_many(keys)
    assert len(got) == 10
    assert cache.info().memory_entries == 3


def test_memory_only_cache(tmp_path: Path) -> None:
    cache = EmbeddingCache(None)
    keys = _fill(cache, 4)
    assert len(cache.get_many(keys)) == 4
    assert cache.info().path is None
    assert not list(tmp_path.iterdir())


def test_clear_and_info(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    keys = _fill(cache, 6)
    info = cache.info()
    assert info.entries == 6 and info.disk_bytes > 0
    assert "entries on disk" in repr(info)
    assert cache.clear() == 6
    assert cache.info().entries == 0 and cache.info().memory_entries == 0
    assert cache.get_many(keys) == {}


def test_two_instances_on_one_file_see_each_others_commits(tmp_path: Path) -> None:
    first = EmbeddingCache(tmp_path / "c.sqlite")
    second = EmbeddingCache(tmp_path / "c.sqlite")
    keys = _fill(first, 3)
    assert len(second.get_many(keys)) == 3


def test_get_cache_shares_one_instance_per_directory(tmp_path: Path) -> None:
    assert get_cache(tmp_path) is get_cache(str(tmp_path))
    assert get_cache(tmp_path) is not get_cache(tmp_path / "other")
    assert get_cache(tmp_path).path == tmp_path.resolve() / "embeddings.sqlite"


def _corrupt_cases() -> list[str]:
    return ["garbage", "truncated"]


@pytest.mark.parametrize("damage", _corrupt_cases())
def test_a_damaged_file_is_moved_aside_and_rebuilt_with_a_warning(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path)
    keys = _fill(cache, 2000)
    cache.close()
    size = path.stat().st_size
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        with path.open("r+b") as f:
            f.truncate(size // 2)

    reopened = EmbeddingCache(path)
    with pytest.warns(CacheWarning, match="moved it to"):
        assert reopened.get_many(keys[:5]) == {}
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside, "the damaged file is kept for inspection"
    # The rebuilt cache works and persists.
    new_keys = _fill(reopened, 3, prefix="new")
    reopened.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(EmbeddingCache(path).get_many(new_keys)) == 3


def test_an_unusable_directory_falls_back_to_memory_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = EmbeddingCache(blocker / "c.sqlite")
    with pytest.warns(CacheWarning, match="memory only"):
        keys = _fill(cache, 3)
    assert len(cache.get_many(keys)) == 3
    assert cache.info().path is None


_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from embed_nb.cache import EmbeddingCache, cache_key

    cache = EmbeddingCache(sys.argv[1])
    batch = 0
    while True:
        keys = [cache_key("fp", "mean", 2, f"{batch}-{i}") for i in range(200)]
        cache.put_many((k, np.full(64, batch, np.float32), batch) for k in keys)
        print(batch, flush=True)  # this batch's transaction has committed
        batch += 1
    """
)


def test_a_writer_killed_mid_write_loses_nothing_it_committed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writer = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert writer.stdout is not None
        committed = [int(writer.stdout.readline()) for _ in range(5)]
        # The writer is inside its next transactions while we kill it.
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert committed == [0, 1, 2, 3, 4]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file must not look damaged
        cache = EmbeddingCache(path)
        for batch in committed:
            keys = [cache_key("fp", "mean", 2, f"{batch}-{i}") for i in range(200)]
            got = cache.get_many(keys)
            assert len(got) == 200
            assert all(float(e.vector[0]) == batch for e in got.values())
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            # Batches are all-or-nothing: no batch was half written.
            counts = db.execute(
                "SELECT n_tokens, COUNT(*) FROM vectors2 GROUP BY n_tokens"
            ).fetchall()
        assert all(count == 200 for _, count in counts)
