"""Quantised vectors: sentence-transformers parity, errors, search with rescoring, front ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import configured, magic_shell, run

import embed_nb
from embed_nb.cli import main
from embed_nb.datasets import _first_sentence, stdlib_docs
from embed_nb.errors import InvalidInputError
from embed_nb.quantize import PRECISIONS, QuantizedEmbeddings, quantize_array
from embed_nb.quantized_search import rescored_top_k
from embed_nb.results import Embeddings

RNG = np.random.default_rng(7)
VECTORS = RNG.normal(size=(40, 37)).astype(np.float32)  # 37: binary pads the last byte
CALIBRATION = RNG.normal(scale=2.0, size=(60, 37)).astype(np.float32)


@pytest.fixture(scope="module")
def st_quantize():  # type: ignore[no-untyped-def]
    module = pytest.importorskip("sentence_transformers.util.quantization")
    return module.quantize_embeddings


@pytest.mark.parametrize("precision", PRECISIONS)
def test_same_bytes_as_sentence_transformers(precision: str, st_quantize) -> None:  # type: ignore[no-untyped-def]
    ours, ranges = quantize_array(VECTORS, precision)
    theirs = st_quantize(VECTORS, precision=precision)
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    if precision.endswith("int8"):
        assert ranges is not None and ranges.shape == (2, 37)
        calibrated, used = quantize_array(VECTORS, precision, calibration=CALIBRATION)
        theirs = st_quantize(VECTORS, precision=precision, calibration_embeddings=CALIBRATION)
        assert np.array_equal(calibrated, theirs)
        assert not np.array_equal(calibrated, ours)  # the calibration's ranges were used
        np.testing.assert_array_equal(used, [CALIBRATION.min(0), CALIBRATION.max(0)])
        again, _ = quantize_array(VECTORS, precision, ranges=used)
        assert np.array_equal(again, calibrated)
    else:
        assert ranges is None and ours.shape == (40, 5)


def test_ranges_from_calibration_put_outliers_at_the_ends() -> None:
    calibration = np.array([[0.0, -1.0], [1.0, 1.0]], dtype=np.float32)
    vectors = np.array([[0.5, 0.0], [2.0, -5.0]], dtype=np.float32)
    packed, _ = quantize_array(vectors, "uint8", calibration=calibration)
    assert packed.tolist() == [[127, 127], [255, 0]]  # clipped to the calibration's range


@pytest.mark.parametrize(
    ("vectors", "precision", "options", "words"),
    [
        (np.zeros((0, 8), np.float32), "int8", {}, "nothing to quantise"),
        (np.array([[1.0, np.nan], [0.0, 1.0]], np.float32), "binary", {}, "NaN"),
        (VECTORS, "int4", {}, "precision must be one of"),
        (VECTORS, "int8", {"calibration": np.ones((5, 3), np.float32)}, "at least 2 vectors"),
        (VECTORS, "int8", {"calibration": "corpus"}, "calibration vectors must be"),
        (VECTORS, "int8", {"ranges": np.ones((3, 37))}, "ranges must be a (2, 37)"),
        (VECTORS[:1], "int8", {}, "single vector"),
        (VECTORS.astype(np.int8), "binary", {}, "int8 already"),
    ],
)
def test_bad_input_is_one_clear_line(
    vectors: np.ndarray, precision: str, options: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        quantize_array(vectors, precision, **options)  # type: ignore[arg-type]
    assert words in str(caught.value) and "\n" not in str(caught.value)


# --- on the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stdlib_task(default_model) -> tuple[list[str], Embeddings, np.ndarray]:  # type: ignore[no-untyped-def]
    """200 standard-library docstrings (their first 600 characters, to stay quick) and their
    first sentences as queries, embedded."""
    pairs = []
    for entry in stdlib_docs():
        sentence = _first_sentence(entry.text)
        if sentence is not None and len(entry.text) > len(sentence) + 40:
            pairs.append((sentence, entry.text[:600]))
    pairs = pairs[:200]
    docs = embed_nb.embed(
        [t for _, t in pairs], model=default_model, cache=False, progress=False, truncate=True
    )
    queries = np.asarray(
        embed_nb.embed([s for s, _ in pairs], model=default_model, cache=False, progress=False)
    )
    return [s for s, _ in pairs], docs, queries


def test_memory_per_vector(stdlib_task) -> None:  # type: ignore[no-untyped-def]
    _, docs, _ = stdlib_task
    binary, int8 = docs.quantize("binary"), docs.quantize("int8")
    assert isinstance(binary, QuantizedEmbeddings) and binary.shape == (200, 48)
    assert (binary.bytes_per_vector, binary.float32_bytes_per_vector, binary.saving) == (
        48,
        1536,
        32.0,
    )
    assert int8.bytes_per_vector == 384 and int8.saving == 4.0 and int8.nbytes == 200 * 384
    assert "48 bytes/vector vs 1,536 as float32 (32x smaller)" in repr(binary)
    assert np.asarray(int8).dtype == np.int8 and int8.ranges is not None


def test_rescored_search_finds_the_float_top_hits(stdlib_task) -> None:  # type: ignore[no-untyped-def]
    _, docs, queries = stdlib_task
    matrix = np.asarray(docs, dtype=np.float64)
    for precision, multiplier, share in (("int8", 4, 0.95), ("binary", 4, 0.6)):
        packed = docs.quantize(precision)
        same_top, same_top5 = 0, 0
        for q in queries.astype(np.float64)[:100]:
            want = np.argsort(-(matrix @ q), kind="stable")[:5]
            got, scores = rescored_top_k(q, packed, 5, multiplier)
            assert np.all(np.diff(scores) <= 0)  # best first
            same_top += got[0] == want[0]
            same_top5 += len(set(got) & set(want)) / 5
        assert same_top >= 90 if precision == "int8" else same_top >= 70, (precision, same_top)
        assert same_top5 / 100 >= share, (precision, same_top5)


def test_rescoring_helps_binary(stdlib_task) -> None:  # type: ignore[no-untyped-def]
    _, docs, queries = stdlib_task
    packed = docs.quantize("ubinary")

    def recall(multiplier: int) -> int:
        return sum(
            i in rescored_top_k(q, packed, 10, multiplier)[0]
            for i, q in enumerate(queries.astype(np.float64))
        )

    assert recall(10) >= recall(1)


def test_api_search_over_quantised_vectors(default_model, stdlib_task) -> None:  # type: ignore[no-untyped-def]
    sentences, docs, _ = stdlib_task
    # The first query whose own document float search ranks first.
    for i, query in enumerate(sentences):
        plain = embed_nb.search(query, docs, 5, model=default_model, cache=False)
        if plain.indices[0] == i:
            break
    for precision in PRECISIONS:
        found = embed_nb.search(
            query, docs.quantize(precision), 5, model=default_model, cache=False
        )
        assert found.method == f"{precision}, rescored" and found.corpus_size == 200
        assert found.indices[0] == plain.indices[0] == i
        assert found.documents[0] == docs.texts[i]
    same = embed_nb.search(query, docs, 5, model=default_model, cache=False, quantize="int8")
    assert same.indices[:3] == plain.indices[:3]
    with pytest.raises(InvalidInputError, match="rescore_multiplier must be a positive"):
        embed_nb.search(query, docs, quantize="binary", rescore_multiplier=0, model=default_model)
    with pytest.raises(InvalidInputError, match="applies to a quantised corpus"):
        embed_nb.search(query, docs, rescore_multiplier=2, model=default_model)
    with pytest.raises(InvalidInputError, match="quantised to 'binary' already"):
        embed_nb.search(query, docs.quantize("binary"), quantize="int8", model=default_model)


def test_quantised_corpus_refuses_another_model(bert_mean, stdlib_task) -> None:  # type: ignore[no-untyped-def]
    _, docs, _ = stdlib_task
    with pytest.raises(InvalidInputError, match="pass model= the one that embedded"):
        embed_nb.search("x", docs.quantize("binary"), model=bert_mean, cache=False)


def test_per_token_vectors_are_refused(bert_none_path: Path) -> None:
    from embed_nb.engine import LocalModel

    with LocalModel(bert_none_path) as model:
        tokens = embed_nb.embed(["a b", "c"], model=model, cache=False)
        with pytest.raises(InvalidInputError, match="per-token"):
            tokens.quantize("binary")


# --- magic and CLI ----------------------------------------------------------------------------


@pytest.fixture
def ip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model_path: Path
) -> Iterator[InteractiveShell]:
    with configured(magic_shell(), tmp_path, monkeypatch, default_model_path) as shell:
        yield shell


def test_magic_quantize_and_rescore(ip: InteractiveShell) -> None:
    plain = run(ip, "%embed_search 'a pet' docs -k 2")
    found = run(ip, "%embed_search 'a pet' docs -k 2 --quantize int8 --rescore-multiplier 2")
    assert found.method == "int8, rescored" and found.indices == plain.indices
    result = ip.run_cell("%embed_search 'a pet' docs --rescore-multiplier 0 --quantize binary")
    assert "rescore_multiplier must be a positive" in str(result.error_in_exec)


def test_cli_writes_packed_vectors(
    default_model, default_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.npy"
    argv = ["embed", "-m", str(default_model_path), "-p", "a cat", "-p", "a dog", "-p", "code"]
    assert main([*argv, "--quantize", "int8", "-o", str(out)]) == 0
    floats = embed_nb.embed(["a cat", "a dog", "code"], model=default_model, cache=False)
    want = floats.quantize("int8")
    assert np.array_equal(np.load(out), np.asarray(want))
    assert np.array_equal(np.load(tmp_path / "q.ranges.npy"), want.ranges)
    capsys.readouterr()
    assert main([*argv, "--quantize", "ubinary", "--embd-output-format", "raw"]) == 0
    rows = [list(map(int, line.split())) for line in capsys.readouterr().out.split("\n") if line]
    assert rows == np.asarray(floats.quantize("ubinary")).tolist()
    assert main([*argv[:-4], "--quantize", "int8"]) == 2  # one text: no ranges to take
    assert "--calibration FILE.npy" in capsys.readouterr().err
