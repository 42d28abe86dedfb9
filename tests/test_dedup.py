"""paraphrases() and communities(): parity with sentence-transformers on real vectors, blocks
that change nothing, bad input as one line, and the %embed_dedup / %embed_cluster magics and
the ``embed-nb dedup`` / ``cluster`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import configured, run

import embed_nb
from embed_nb import InvalidInputError
from embed_nb.cache import EmbeddingCache
from embed_nb.cli import main
from embed_nb.datasets import short_texts, teaching_sentences
from embed_nb.results import Embeddings

# --- real vectors --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # Topics of near-paraphrases, real short sentences, and two exact duplicates.
    sentences = teaching_sentences() + short_texts(260)
    return [*sentences, sentences[3], sentences[50]]


@pytest.fixture(scope="module")
def vectors(texts: list[str], default_model: Any) -> Embeddings:
    return embed_nb.embed(texts, model=default_model, cache=False, progress=False)


def st_util() -> tuple[Any, Any]:
    """sentence-transformers' util and torch, or a skip where they are not installed."""
    torch = pytest.importorskip("torch")
    return pytest.importorskip("sentence_transformers.util"), torch


@pytest.fixture(scope="module")
def distinct(vectors: Embeddings) -> np.ndarray:
    """The vectors without the exact duplicates: ties would let either copy be the pick."""
    return np.asarray(vectors)[:-2]


def pair_scores(frame: pd.DataFrame) -> dict[tuple[int, int], float]:
    return {
        (int(i), int(j)): float(s) for i, j, s in zip(frame.i, frame.j, frame.score, strict=True)
    }


@pytest.mark.parametrize("top_k", [1, 5, 40])
def test_paraphrases_are_sentence_transformers_pairs(distinct: np.ndarray, top_k: int) -> None:
    util, torch = st_util()
    theirs = util.paraphrase_mining_embeddings(
        torch.from_numpy(distinct), top_k=top_k, max_pairs=10**9
    )
    ours = embed_nb.paraphrases(distinct, threshold=-1, top_k=top_k, max_pairs=None)
    expected = {(i, j): s for s, i, j in theirs}
    got = pair_scores(ours)
    assert got.keys() == expected.keys()
    assert max(abs(got[p] - expected[p]) for p in got) < 1e-5
    assert list(ours.score) == sorted(ours.score, reverse=True)
    assert (ours.i < ours.j).all()


def test_threshold_and_max_pairs_match_sentence_transformers(distinct: np.ndarray) -> None:
    util, torch = st_util()
    matrix = torch.from_numpy(distinct)
    theirs = util.paraphrase_mining_embeddings(matrix, top_k=10, max_pairs=10**9)
    ours = embed_nb.paraphrases(distinct, threshold=0.6, top_k=10)
    assert set(pair_scores(ours)) == {(i, j) for s, i, j in theirs if s >= 0.6}
    assert len(ours) > 20  # the topics hold paraphrases at 0.6
    # A cap far below the candidates, with blocks so small that the pairs are trimmed on the way.
    capped = util.paraphrase_mining_embeddings(matrix, top_k=10, max_pairs=30)
    ours = embed_nb.paraphrases(distinct, threshold=-1, top_k=10, max_pairs=30, block_size=5)
    assert list(zip(ours.i, ours.j, strict=True)) == [(i, j) for _, i, j in capped]


def test_communities_are_sentence_transformers_communities(distinct: np.ndarray) -> None:
    util, _ = st_util()
    for threshold, min_size in [(0.55, 3), (0.7, 2), (0.4, 10)]:
        theirs = util.community_detection(
            distinct, threshold=threshold, min_community_size=min_size
        )
        frame = embed_nb.communities(distinct, threshold=threshold, min_size=min_size)
        ours = [list(g["index"]) for _, g in frame.groupby("community", sort=True)]
        assert ours == theirs, (threshold, min_size)
        assert ours, "no community found: the check would prove nothing"


def test_blocks_change_nothing(vectors: Embeddings) -> None:
    for block_size in (1, 7, 64):
        pd.testing.assert_frame_equal(
            embed_nb.paraphrases(vectors, threshold=0.3, top_k=8, block_size=block_size),
            embed_nb.paraphrases(vectors, threshold=0.3, top_k=8),
        )
        pd.testing.assert_frame_equal(
            embed_nb.communities(vectors, threshold=0.5, min_size=3, block_size=block_size),
            embed_nb.communities(vectors, threshold=0.5, min_size=3),
        )


def test_block_memory_is_bounded(vectors: Embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    from embed_nb import dedup

    seen: list[int] = []
    real_blocks = dedup._blocks

    def spy(n: int, block_size: int | None) -> list[tuple[int, int]]:
        blocks = real_blocks(n, block_size)
        seen.extend(stop - start for start, stop in blocks)
        return blocks

    monkeypatch.setattr(dedup, "BLOCK_BYTES", 4 * len(vectors) * 10)  # ten rows a block
    monkeypatch.setattr(dedup, "_blocks", spy)
    embed_nb.paraphrases(vectors, threshold=0.5)
    assert max(seen) == 10 and sum(seen) == len(vectors)


def test_texts_are_embedded_through_the_cache(
    texts: list[str], vectors: Embeddings, default_model: Any, tmp_path: Path
) -> None:
    store = EmbeddingCache(tmp_path / "cache.sqlite")
    first = embed_nb.paraphrases(texts, model=default_model, cache=store, threshold=0.8)
    assert store.info().entries == len(set(texts))
    again = embed_nb.paraphrases(texts, model=default_model, cache=store, threshold=0.8)
    assert store.info().hits >= len(set(texts))
    pd.testing.assert_frame_equal(first, again)
    # The exact duplicates are found, with their texts, at the top.
    n = len(texts)
    top = first.iloc[:2]
    assert {(int(i), int(j)) for i, j in zip(top.i, top.j, strict=True)} == {
        (3, n - 2),
        (50, n - 1),
    }
    assert (top.score > 0.9999).all() and (top.text_i == top.text_j).all()
    from_vectors = embed_nb.paraphrases(vectors, threshold=0.8)
    # Texts embedded in cached parts differ from one batch in the last digits (the engine's
    # batches), not in which pairs they make.
    assert pair_scores(first) == pytest.approx(pair_scores(from_vectors), abs=1e-4)
    store.close()


def test_frames_without_texts_and_empty() -> None:
    matrix = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    pairs = embed_nb.paraphrases(matrix, threshold=0.9)
    assert list(pairs.columns) == ["i", "j", "score"]
    assert list(zip(pairs.i, pairs.j, strict=True)) == [(0, 1)]
    none = embed_nb.paraphrases(matrix, threshold=1.0)
    assert len(none) == 0 and list(none.columns) == ["i", "j", "score"]
    members = embed_nb.communities(matrix, threshold=0.9, min_size=2)
    assert list(members.columns) == ["community", "size", "index", "is_centre", "score"]
    assert list(members["index"]) == [0, 1] and list(members.is_centre) == [True, False]
    assert embed_nb.communities(matrix, threshold=0.9, min_size=3).empty


NAN = np.array([[1.0, 0.0], [np.nan, 1.0]])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: embed_nb.paraphrases(np.eye(3), threshold=1.5), "threshold must be from -1"),
        (lambda: embed_nb.paraphrases(np.eye(3), threshold=-1.01), "threshold must be from -1"),
        (lambda: embed_nb.paraphrases(np.eye(3), threshold=float("nan")), "threshold"),
        (lambda: embed_nb.paraphrases(np.eye(3), threshold="0.9"), "threshold must be a number"),
        (lambda: embed_nb.paraphrases(np.eye(3), top_k=0), "top_k must be a positive"),
        (lambda: embed_nb.paraphrases(np.eye(3), top_k=2.5), "top_k must be a positive"),
        (lambda: embed_nb.paraphrases(np.eye(3), max_pairs=0), "max_pairs"),
        (lambda: embed_nb.paraphrases(np.eye(3), block_size=0), "block_size"),
        (lambda: embed_nb.paraphrases(NAN), "NaN"),
        (lambda: embed_nb.paraphrases(np.eye(3)[:1]), "at least 2 vectors"),
        (lambda: embed_nb.paraphrases(np.ones(3)), "at least 2 vectors"),
        (lambda: embed_nb.paraphrases(["only one"]), "at least 2 texts"),
        (lambda: embed_nb.paraphrases("one text"), "at least 2 texts"),
        (lambda: embed_nb.communities(np.eye(3), threshold=2), "threshold must be from -1"),
        (lambda: embed_nb.communities(np.eye(3), min_size=0), "min_size must be a positive"),
        (lambda: embed_nb.communities(np.eye(3), min_size=True), "min_size must be a positive"),
        (lambda: embed_nb.communities(NAN), "NaN"),
        (lambda: embed_nb.communities([]), "empty"),
    ],
)
def test_bad_input_is_one_line(call: Any, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words) as raised:
        call()
    assert "\n" not in str(raised.value)


def test_a_reranker_is_refused(reranker_path: Path) -> None:
    from embed_nb.engine import LocalModel

    with LocalModel(reranker_path) as reranker, pytest.raises(InvalidInputError, match="reranker"):
        embed_nb.paraphrases(["a", "b"], model=reranker, cache=False)


# --- the magics ----------------------------------------------------------------------------


@pytest.fixture
def ip(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    default_model_path: Path,
    texts: list[str],
    vectors: Embeddings,
) -> Iterator[InteractiveShell]:
    with configured(
        shell, tmp_path, monkeypatch, default_model_path, texts=texts, vecs=vectors
    ) as configured_shell:
        yield configured_shell


def test_embed_dedup_magic(ip: InteractiveShell, vectors: Embeddings) -> None:
    frame = run(ip, "%embed_dedup texts --threshold 0.8 --top-k 5 -o pairs")
    assert isinstance(frame, pd.DataFrame) and ip.user_ns["pairs"] is frame
    expected = embed_nb.paraphrases(vectors, threshold=0.8, top_k=5)
    assert pair_scores(frame) == pytest.approx(pair_scores(expected), abs=1e-4)
    assert "text_i" in frame.columns
    vector_frame = run(ip, "%embed_dedup vecs --threshold 0.8 --top-k 5")
    assert pair_scores(vector_frame) == pytest.approx(pair_scores(expected), abs=1e-6)


def test_embed_cluster_magic(ip: InteractiveShell, vectors: Embeddings) -> None:
    frame = run(ip, "%embed_cluster vecs --threshold 0.55 --min-size 3 -o groups")
    assert ip.user_ns["groups"] is frame
    pd.testing.assert_frame_equal(frame, embed_nb.communities(vectors, threshold=0.55, min_size=3))
    assert frame.groupby("community").is_centre.sum().eq(1).all()


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("%embed_dedup vecs --threshold 2", "threshold must be from -1"),
        ("%embed_dedup vecs --top-k 0", "top_k must be a positive"),
        ("%embed_cluster vecs --min-size 0", "min_size must be a positive"),
        ("%embed_cluster vecs --threshold x", "invalid float value"),
        ("%embed_dedup nothing_here", "no variable named"),
    ],
)
def test_magic_mistakes_are_one_line(ip: InteractiveShell, line: str, words: str) -> None:
    result = ip.run_cell(line, store_history=False)
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    assert words in str(result.error_in_exec) and "\n" not in str(result.error_in_exec)


# --- the CLI -------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_dedup_json_and_csv(
    capsys: pytest.CaptureFixture[str], default_model_path: Path, tmp_path: Path
) -> None:
    lines = ["The cat sits on the mat.", "A cat is sitting on the mat.", "Stocks fell today."]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(lines) + "\n")
    status, out, err = cli(
        capsys, "dedup", "-m", default_model_path, "-f", source, "--threshold", "0.7",
        "--format", "json",
    )  # fmt: skip
    assert status == 0, err
    rows = json.loads(out)
    assert [(r["i"], r["j"]) for r in rows] == [(0, 1)]
    assert rows[0]["text_j"] == lines[1] and rows[0]["score"] > 0.7
    status, out, _ = cli(
        capsys, "dedup", "-m", default_model_path, "-f", source, "--threshold", "-1",
        "--top-k", "1",
    )  # fmt: skip
    assert status == 0 and out.splitlines()[0] == "i,j,score,text_i,text_j"
    assert len(out.splitlines()) == 1 + 2  # each text's best other: (0, 1) and (x, 2)


def test_cli_cluster(capsys: pytest.CaptureFixture[str], default_model_path: Path) -> None:
    texts = "\n".join(teaching_sentences())
    status, out, err = cli(
        capsys, "cluster", "-m", default_model_path, "-p", texts, "--threshold", "0.55",
        "--min-size", "3", "--format", "json",
    )  # fmt: skip
    assert status == 0, err
    rows = json.loads(out)
    assert rows and {"community", "size", "index", "is_centre", "score", "text"} <= set(rows[0])
    assert rows[0]["is_centre"] and rows[0]["community"] == 0


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["dedup", "-p", "a\nb", "--threshold", "1.5"], "--threshold must be from -1"),
        (["dedup", "-p", "a\nb", "--top-k", "0"], "--top-k must be a positive"),
        (["cluster", "-p", "a\nb", "--min-size", "0"], "--min-size must be a positive"),
        (["cluster", "-p", "only one"], "at least 2 texts"),
    ],
)
def test_cli_mistakes_fail_before_loading(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    # -m names no file: each mistake must be found before the model would load.
    status, out, err = cli(capsys, *argv, "-m", "/nonexistent/model.gguf")
    assert status == 2 and out == ""
    assert words in err and err.count("\n") == 1
