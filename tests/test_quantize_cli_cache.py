"""``embed-nb search --quantize/--rescore-multiplier``, and the cache's int8 rows.

The CLI runs in-process (:func:`embed_nb.cli.main`) on the real default model and must print
what :func:`embed_nb.search` returns for the same arguments. The int8 cache is measured on the
default model's real vectors: the error bound per component, the cosine to the float vector,
the bytes per row for each dtype, and that a row of one encoding never reads as the other.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from magic_shell import configured

import embed_nb
from embed_nb import cache as cache_module
from embed_nb.cache import EmbeddingCache, get_cache
from embed_nb.cache_rows import INT8_DTYPE, decode_row, row_checksum
from embed_nb.cli import main
from embed_nb.errors import InvalidInputError
from embed_nb.settings import SETTINGS

CORPUS = [
    "The cat sits on the mat.",
    "Dogs are loyal companions.",
    "Python is a programming language.",
    "The stock market fell sharply today.",
    "A recipe for chocolate cake with cherries.",
    "Rust guarantees memory safety without garbage collection.",
    "The weather is sunny and warm.",
    "Kittens love to play with yarn.",
]
QUERY = "which animal likes string?"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def docs_vectors(default_model: Any) -> np.ndarray:
    """Real float vectors: the default model on the stdlib docstrings."""
    from embed_nb.datasets import stdlib_docs

    texts = list(stdlib_docs(as_frame=True)["text"])[:400]
    return np.asarray(
        embed_nb.embed(texts, model=default_model, cache=False, progress=False, truncate=True)
    )


# --- embed-nb search --quantize / --rescore-multiplier -----------------------------------------


@pytest.mark.parametrize(
    ("precision", "multiplier"), [("int8", None), ("binary", 1), ("ubinary", 3)]
)
def test_cli_search_quantized_matches_the_api(
    capsys: pytest.CaptureFixture[str],
    default_model: Any,
    default_model_path: Path,
    precision: str,
    multiplier: int | None,
) -> None:
    argv: list[object] = ["search", QUERY, *CORPUS, "-m", default_model_path, "-k", 3]
    argv += ["--quantize", precision, "--json"]
    if multiplier is not None:
        argv += ["--rescore-multiplier", multiplier]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    records = json.loads(out)
    expected = embed_nb.search(
        QUERY,
        CORPUS,
        3,
        model=default_model,
        cache=False,
        progress=False,
        quantize=precision,
        rescore_multiplier=multiplier,
    )
    assert expected.method == f"{precision}, rescored"  # the quantised path, not plain search
    assert [r["index"] for r in records] == [h.index for h in expected.hits]
    assert [r["score"] for r in records] == pytest.approx(
        [h.score for h in expected.hits], abs=1e-5
    )
    assert records[0]["document"] == "Kittens love to play with yarn."


def test_cli_search_quantized_prints_the_hits(
    capsys: pytest.CaptureFixture[str], default_model_path: Path
) -> None:
    status, out, err = run(
        capsys, "search", QUERY, *CORPUS, "-m", default_model_path, "--quantize", "binary"
    )
    assert status == 0, err
    first_hit = out.splitlines()[1]
    assert "1." in first_hit and "Kittens love to play with yarn." in first_hit


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rescore-multiplier", "2"], "rescore_multiplier applies to a quantised corpus"),
        (["--quantize", "int8", "--rescore-multiplier", "0"], "rescore_multiplier must be"),
    ],
)
def test_cli_search_quantized_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], default_model_path: Path, extra: list[str], message: str
) -> None:
    status, out, err = run(capsys, "search", QUERY, *CORPUS, "-m", default_model_path, *extra)
    assert status != 0 and not out
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_search_refuses_an_unknown_precision(
    capsys: pytest.CaptureFixture[str], default_model_path: Path
) -> None:
    status, out, err = run(
        capsys, "search", QUERY, "a", "-m", default_model_path, "--quantize", "int4"
    )
    assert status == 2 and not out
    assert "int4" in err


# --- the int8 cache ------------------------------------------------------------------------------


def keys(n: int) -> list[str]:
    return [f"{i:040x}" for i in range(n)]


def stored(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT dtype, data FROM vectors2 ORDER BY key").fetchall()


def test_int8_rows_read_back_within_the_documented_error(
    tmp_path: Path, docs_vectors: np.ndarray
) -> None:
    path = tmp_path / "c.sqlite"
    writer = EmbeddingCache(path, dtype="int8")
    writer.put_many((k, v, 7) for k, v in zip(keys(len(docs_vectors)), docs_vectors, strict=True))
    writer.close()
    assert {dtype for dtype, _ in stored(path)} == {INT8_DTYPE}

    # A float32 cache opened on the int8 file reads the int8 rows correctly (dequantised).
    reader = EmbeddingCache(path)
    found = reader.get_many(keys(len(docs_vectors)), dim=docs_vectors.shape[1])
    back = np.stack([found[k].vector for k in keys(len(docs_vectors))])
    assert back.dtype == np.float32 and reader.dropped_rows == 0
    assert all(found[k].n_tokens == 7 for k in found)

    scales = np.abs(docs_vectors).max(axis=1, keepdims=True) / 127
    error = np.abs(back - docs_vectors)
    assert (error <= scales / 2 * (1 + 1e-5) + 1e-9).all()
    cosine = (back * docs_vectors).sum(1) / (
        np.linalg.norm(back, axis=1) * np.linalg.norm(docs_vectors, axis=1)
    )
    assert cosine.min() >= 0.9999, cosine.min()
    print(
        f"\nint8 cache on {len(back)} real vectors: min cosine {cosine.min():.6f}, "
        f"max abs error / scale {(error / scales).max():.3f}"
    )


def test_a_float32_file_opened_as_int8_stays_exact(
    tmp_path: Path, docs_vectors: np.ndarray
) -> None:
    path = tmp_path / "c.sqlite"
    writer = EmbeddingCache(path)
    writer.put_many((k, v, 1) for k, v in zip(keys(20), docs_vectors[:20], strict=True))
    writer.close()
    reader = EmbeddingCache(path, dtype="int8")
    found = reader.get_many(keys(20))
    assert np.array_equal(np.stack([found[k].vector for k in keys(20)]), docs_vectors[:20])
    # New rows are int8; the old ones are left as they were.
    reader.put_many([("f" * 40, docs_vectors[30], 1)])
    reader.close()
    assert sorted(dtype for dtype, _ in stored(path)).count(INT8_DTYPE) == 1


def test_memory_hit_and_file_hit_give_the_same_vector(
    tmp_path: Path, docs_vectors: np.ndarray
) -> None:
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path, dtype="int8")
    cache.put_many([("a" * 40, docs_vectors[0], 3)])
    from_memory = cache.get_many(["a" * 40])["a" * 40].vector
    cache.close()
    from_file = EmbeddingCache(path).get_many(["a" * 40])["a" * 40].vector
    assert np.array_equal(from_memory, from_file)
    assert not from_memory.flags.writeable and not from_file.flags.writeable
    assert not np.array_equal(from_memory, docs_vectors[0])  # it is the dequantised vector


def test_bytes_per_row_on_the_default_model(tmp_path: Path, docs_vectors: np.ndarray) -> None:
    sizes = {}
    for dtype in ("float32", "int8"):
        path = tmp_path / f"{dtype}.sqlite"
        cache = EmbeddingCache(path, dtype=dtype)
        cache.put_many(
            (k, v, 5) for k, v in zip(keys(len(docs_vectors)), docs_vectors, strict=True)
        )
        cache.close()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            data = db.execute("SELECT AVG(LENGTH(data)) FROM vectors2").fetchone()[0]
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            page = db.execute("PRAGMA page_size").fetchone()[0]
        sizes[dtype] = (data, pages * page / len(docs_vectors))
    d = docs_vectors.shape[1]
    assert sizes["float32"][0] == 4 * d and sizes["int8"][0] == d + 4
    assert sizes["float32"][1] / sizes["int8"][1] > 2.8  # the key, checksum, ... are per row too
    print(
        f"\nbytes per row, {d}-d vectors, {len(docs_vectors)} rows: "
        + ", ".join(f"{k}: data {v[0]:.0f}, file {v[1]:.0f}" for k, v in sizes.items())
        + f" (file ratio {sizes['float32'][1] / sizes['int8'][1]:.2f}x)"
    )


def test_token_vectors_get_one_scale_per_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tokens = (rng.standard_normal((5, 16)) * np.array([[1], [10], [0.01], [0], [3]])).astype(
        np.float32
    )
    cache = EmbeddingCache(tmp_path / "c.sqlite", dtype="int8")
    cache.put_many([("b" * 40, tokens, 5)])
    cache.close()
    back = EmbeddingCache(tmp_path / "c.sqlite").get_many(["b" * 40])["b" * 40].vector
    assert back.shape == (5, 16)
    assert np.array_equal(back[3], np.zeros(16, np.float32))  # a zero row: scale 0, codes 0
    scales = np.abs(tokens).max(axis=1, keepdims=True) / 127
    assert (np.abs(back - tokens) <= scales / 2 * (1 + 1e-5)).all()


def tampered(path: Path, **columns: object) -> None:
    """Rewrite the one row's columns (with a valid checksum when 'checksum' is not given)."""
    with sqlite3.connect(path) as db:
        key, dtype, shape, n_tokens, data = db.execute(
            "SELECT key, dtype, shape, n_tokens, data FROM vectors2"
        ).fetchone()
        row = {"dtype": dtype, "shape": shape, "n_tokens": n_tokens, "data": data, **columns}
        checksum = columns.get(
            "checksum",
            row_checksum(key, row["dtype"], row["shape"], row["n_tokens"], row["data"]),
        )
        db.execute(
            "UPDATE vectors2 SET dtype = ?, data = ?, checksum = ?",
            (row["dtype"], row["data"], checksum),
        )


@pytest.mark.parametrize(
    "change",
    ["relabel_as_float32", "flip_a_byte", "code_minus_128", "negative_scale", "truncated"],
)
def test_a_row_that_does_not_hold_is_dropped_never_misread(
    tmp_path: Path, docs_vectors: np.ndarray, change: str
) -> None:
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path, dtype="int8")
    cache.put_many([("c" * 40, docs_vectors[0], 1)])
    cache.close()
    [(_, data)] = stored(path)
    if change == "relabel_as_float32":
        tampered(path, dtype="<f4")
    elif change == "flip_a_byte":
        tampered(path, data=data[:10] + bytes([data[10] ^ 1]) + data[11:], checksum=b"x" * 16)
    elif change == "code_minus_128":
        tampered(path, data=data[:4] + b"\x80" + data[5:])
    elif change == "negative_scale":
        tampered(path, data=np.float32(-0.01).tobytes() + data[4:])
    else:
        tampered(path, data=data[:-1])
    reader = EmbeddingCache(path)
    with pytest.warns(cache_module.CacheWarning, match="dropped 1"):
        assert reader.get_many(["c" * 40]) == {}
    assert reader.dropped_rows == 1


def test_a_float32_row_relabelled_as_int8_is_refused(
    tmp_path: Path, docs_vectors: np.ndarray
) -> None:
    row = docs_vectors[0].astype("<f4").tobytes()
    checksum = row_checksum("d" * 40, INT8_DTYPE, "384", 1, row)
    assert decode_row("d" * 40, INT8_DTYPE, "384", 1, row, checksum, None) is None


@pytest.mark.parametrize("bad", ["int4", "float16", "", None, 8])
def test_a_bad_dtype_is_one_clear_error(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"'float32' .* or 'int8'"):
        EmbeddingCache(tmp_path / "c.sqlite", dtype=bad)  # type: ignore[arg-type]
    if bad is not None:  # get_cache(dtype=None) leaves the shared cache's dtype as it is
        with pytest.raises(InvalidInputError, match=r"'float32' .* or 'int8'"):
            get_cache(tmp_path, dtype=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"cache_dtype: .*'int8'"):
        SETTINGS.cache_dtype = bad
    assert SETTINGS.cache_dtype == "float32"


@pytest.fixture
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(cache_module, "_CACHES", {})
    yield


@pytest.mark.usefixtures("fresh_caches")
def test_the_setting_makes_embed_write_int8(tmp_path: Path, default_model: Any) -> None:
    texts = CORPUS[:4]
    exact = np.asarray(embed_nb.embed(texts, model=default_model, cache=False, progress=False))
    with SETTINGS.override(cache_dir=str(tmp_path), cache_dtype="int8"):
        assert SETTINGS.cache_store().dtype == "int8"  # type: ignore[union-attr]
        first = embed_nb.embed(texts, model=default_model, progress=False)
        cache_module._CACHES.clear()  # a new kernel: only the file remains
        again = embed_nb.embed(texts, model=default_model, progress=False)
    assert int(again.extra["cache_hits"]) == len(texts)
    assert np.array_equal(np.asarray(first), exact)  # the first call gives the exact vectors
    back = np.asarray(again)
    cosine = (back * exact).sum(1) / np.linalg.norm(back, axis=1)  # exact is unit (normalize=2)
    assert cosine.min() >= 0.9999
    assert {dtype for dtype, _ in stored(tmp_path / "embeddings.sqlite")} == {INT8_DTYPE}
    assert "int8" in repr(get_cache(tmp_path).info())


def test_config_trait_writes_through_to_the_setting(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bert_mean_path: Path
) -> None:
    with configured(shell, tmp_path, monkeypatch, bert_mean_path) as ip:
        result = ip.run_cell("%config EmbedMagics.cache_dtype = 'int8'", store_history=False)
        assert result.success
        assert SETTINGS.cache_dtype == "int8"
        ip.run_cell("%config EmbedMagics.cache_dtype = 'int4'", store_history=False)
        assert SETTINGS.cache_dtype == "int8"  # a refused value keeps the old one
    magics = shell.magics_manager.registry["EmbedMagics"]
    assert magics.cache_dtype == "float32"
    assert SETTINGS.cache_dtype == "float32"
