"""The ``embed-nb`` command line: llama-embedding's output formats, rerank, info, one-line errors.

Most tests call :func:`embed_nb.cli.main` in-process and read what it printed; a few run the
command as a subprocess. Every printed number is checked against what ``model.embed`` gives for
the same texts, formatted as llama-embedding formats it (C's ``%1.7f`` and friends).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import embed_nb
from embed_nb.cli import cosine_matrix, main
from embed_nb.engine import LocalModel
from embed_nb.engine.normalize import normalize
from embed_nb.engine.remote import RemoteModel

Model = LocalModel | RemoteModel

TEXTS = ["hello world", "the cat sits on the mat", "a dog"]


@pytest.fixture(scope="module")
def mean_model(bert_mean_path: Path) -> Iterator[Model]:
    model = embed_nb.load_model(bert_mean_path)
    yield model
    model.close()


@pytest.fixture(scope="module")
def none_model(bert_none_path: Path) -> Iterator[Model]:
    model = embed_nb.load_model(bert_none_path)
    yield model
    model.close()


@pytest.fixture(scope="module")
def reranker(reranker_path: Path) -> Iterator[Model]:
    model = embed_nb.load_model(reranker_path)
    yield model
    model.close()


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def embed_args(path: Path, *texts: str, fmt: str | None = None) -> list[str]:
    argv = ["embed", "-m", str(path)]
    for text in texts:
        argv += ["-p", text]
    if fmt is not None:
        argv += ["--embd-output-format", fmt]
    return argv


def printed(values: np.ndarray, spec: str = ".7f") -> np.ndarray:
    """The numbers llama-embedding's printf would show, read back as floats."""
    return np.vectorize(lambda v: float(format(float(v), spec)))(values)


def token_rows(model: Model, texts: list[str], mode: int = 2) -> np.ndarray:
    """Per-token vectors, normalised per token as llama-embedding does, in prompt order."""
    result = model.embed(texts)
    assert result.token_vectors is not None
    return normalize(np.concatenate(result.token_vectors), mode)


# --------------------------------------------------------------------------------------------
# Output formats, pooled


def test_json_is_llama_embedding_layout_with_the_api_numbers(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    status, out, err = run(capsys, *embed_args(bert_mean_path, *TEXTS, fmt="json"))
    assert status == 0, err
    expected = np.asarray(mean_model.embed(TEXTS))
    data = json.loads(out)
    assert data["object"] == "list"
    assert [item["object"] for item in data["data"]] == ["embedding"] * 3
    assert [item["index"] for item in data["data"]] == [0, 1, 2]
    got = np.array([item["embedding"] for item in data["data"]])
    np.testing.assert_array_equal(got, printed(expected))
    # Byte layout of embedding.cpp: 2/4/6-space indents, no spaces inside the vectors,
    # and the closing LOG("\n") after the object.
    assert out.startswith(
        '{\n  "object": "list",\n  "data": [\n    {\n      "object": "embedding",\n'
        '      "index": 0,\n      "embedding": ['
    )
    assert "]\n    },\n    {\n" in out
    assert out.endswith("]\n    }\n  ]\n}\n\n")
    assert ", " not in out


def test_json_plus_adds_llama_cpp_cosine_matrix(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    status, out, _ = run(capsys, *embed_args(bert_mean_path, *TEXTS, fmt="json+"))
    assert status == 0
    data = json.loads(out)
    vectors = np.asarray(mean_model.embed(TEXTS))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = np.array(data["cosineSimilarity"])
    assert sims.shape == (3, 3)
    np.testing.assert_allclose(sims, unit @ unit.T, atol=0.005 + 1e-6)
    np.testing.assert_array_equal(sims, printed(cosine_matrix(vectors), ".2f"))
    assert np.all(np.diag(sims) == 1.0)
    # Rows as "%6.2f" joined by ", " in "    [ ... ]".
    rows = out.split('"cosineSimilarity": [\n')[1].split("\n  ]")[0].split(",\n")
    assert len(rows) == 3
    for row in rows:
        assert re.fullmatch(r"    \[( {0,2}-?\d\.\d\d, ){2} {0,2}-?\d\.\d\d \]", row), row
    assert out.endswith("\n  ]\n}\n\n")


def test_json_plus_with_one_prompt_has_no_matrix(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path
) -> None:
    _, out, _ = run(capsys, *embed_args(bert_mean_path, "hello", fmt="json+"))
    assert "cosineSimilarity" not in json.loads(out)


def test_array_format(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    status, out, _ = run(capsys, *embed_args(bert_mean_path, *TEXTS, fmt="array"))
    assert status == 0
    expected = printed(np.asarray(mean_model.embed(TEXTS)))
    np.testing.assert_array_equal(np.array(json.loads(out)), expected)
    rows = ["[" + ",".join(f"{v:.7f}" for v in row) + "]" for row in expected.tolist()]
    assert out == "[" + ",".join(rows) + "]\n\n"


def test_raw_format_one_embedding_per_line(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    status, out, _ = run(capsys, *embed_args(bert_mean_path, *TEXTS, fmt="raw"))
    assert status == 0
    expected = printed(np.asarray(mean_model.embed(TEXTS)))
    lines = out.split("\n")
    assert lines[3:] == ["", ""]  # three lines, then llama-embedding's closing newline
    got = np.array([[float(v) for v in line.split(" ")] for line in lines[:3]])
    np.testing.assert_array_equal(got, expected)
    assert all(re.fullmatch(r"-?\d\.\d{7}", v) for v in lines[0].split(" "))


def test_default_summary_and_cosine_matrix(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    status, out, _ = run(capsys, *embed_args(bert_mean_path, *TEXTS))
    assert status == 0
    vectors = np.asarray(mean_model.embed(TEXTS))
    lines = out.split("\n")
    assert lines[0] == ""
    for j in range(3):  # several prompts: the first 16 values, "%9.6f " each
        assert lines[1 + j] == f"embedding {j}: " + "".join(f"{v:9.6f} " for v in vectors[j][:16])
    assert lines[4:7] == ["", "cosine similarity matrix:", ""]
    assert lines[7] == "hello  the ca  a dog "  # "%6.6s " of each prompt: "hello " etc.
    sims = cosine_matrix(vectors)
    labels = ["hello worl", "the cat si", "a dog"]  # "%1.10s"
    for i in range(3):
        assert lines[8 + i] == "".join(f"{s:6.2f} " for s in sims[i]) + labels[i]
    assert lines[11:] == ["", ""]


def test_default_summary_single_prompt_prints_whole_vector(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    _, out, _ = run(capsys, *embed_args(bert_mean_path, "hello world"))
    vector = np.asarray(mean_model.embed("hello world"))
    assert out == "\nembedding 0: " + "".join(f"{v:9.6f} " for v in vector) + "\n\n"


@pytest.mark.parametrize("mode", [-1, 1, 2, 3])
def test_normalize_modes_match_the_api(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model, mode: int
) -> None:
    argv = [*embed_args(bert_mean_path, *TEXTS, fmt="array"), "--embd-normalize", str(mode)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    expected = printed(np.asarray(mean_model.embed(TEXTS, normalize=mode)))
    np.testing.assert_array_equal(np.array(json.loads(out)), expected)


def test_normalize_zero_prints_whole_numbers(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    argv = [*embed_args(bert_mean_path, *TEXTS[:2], fmt="json"), "--embd-normalize", "0"]
    _, out, _ = run(capsys, *argv)
    expected = printed(np.asarray(mean_model.embed(TEXTS[:2], normalize=0)), ".0f")
    got = np.array([item["embedding"] for item in json.loads(out)["data"]])
    np.testing.assert_array_equal(got, expected)
    assert np.abs(got).max() == 32760
    assert "." not in out.split('"embedding": [')[1].split("]")[0]
    # and "%6.0f " in the summary
    _, out, _ = run(capsys, *embed_args(bert_mean_path, "hello"), "--embd-normalize", "0")
    vector = np.asarray(mean_model.embed("hello", normalize=0))
    assert out == "\nembedding 0: " + "".join(f"{v:6.0f} " for v in vector) + "\n\n"


# --------------------------------------------------------------------------------------------
# Per-token output (pooling none)


@pytest.mark.parametrize("fmt", ["json", "json+", "array", "raw"])
def test_per_token_output_in_every_format(
    capsys: pytest.CaptureFixture[str], bert_none_path: Path, none_model: Model, fmt: str
) -> None:
    texts = TEXTS[:2]
    status, out, err = run(capsys, *embed_args(bert_none_path, *texts, fmt=fmt))
    assert status == 0, err
    rows = token_rows(none_model, texts)
    n_tokens = sum(len(none_model.tokenize(t)) for t in texts)
    assert rows.shape == (n_tokens, 32)
    if fmt == "raw":
        got = np.array([[float(v) for v in line.split(" ")] for line in out.splitlines() if line])
    elif fmt == "array":
        got = np.array(json.loads(out))
    else:
        data = json.loads(out)
        assert [item["index"] for item in data["data"]] == list(range(n_tokens))
        got = np.array([item["embedding"] for item in data["data"]])
        if fmt == "json+":  # over every token, as llama-embedding does
            sims = np.array(data["cosineSimilarity"])
            assert sims.shape == (n_tokens, n_tokens)
            np.testing.assert_array_equal(sims, printed(cosine_matrix(rows), ".2f"))
    np.testing.assert_array_equal(got, printed(rows))


def test_per_token_summary(
    capsys: pytest.CaptureFixture[str], bert_none_path: Path, none_model: Model
) -> None:
    texts = TEXTS[:2]
    _, out, _ = run(capsys, *embed_args(bert_none_path, *texts))
    rows = token_rows(none_model, texts)
    lines = out.split("\n")
    assert lines[0] == ""
    for j, row in enumerate(rows):
        head = "".join(f"{v:9.6f} " for v in row[:3])
        tail = "".join(f"{v:9.6f} " for v in row[-3:])
        assert lines[1 + j] == f"embedding {j}: {head} ... {tail}"
    assert lines[1 + len(rows) :] == ["", ""]  # no cosine matrix per token
    assert "cosine" not in out


def test_pooling_flag_overrides_the_model(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, none_model: Model
) -> None:
    argv = [*embed_args(bert_mean_path, "hello world", fmt="array"), "--pooling", "none"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    # The same weights as bert-none (the tiny builder is seeded), so the same token vectors.
    got = np.array(json.loads(out))
    assert got.shape == (len(none_model.tokenize("hello world")), 32)


def test_per_token_npy(
    capsys: pytest.CaptureFixture[str],
    bert_none_path: Path,
    none_model: Model,
    tmp_path: Path,
) -> None:
    target = tmp_path / "tokens.npy"
    status, out, _ = run(capsys, *embed_args(bert_none_path, *TEXTS[:2]), "-o", target)
    assert status == 0
    assert out == ""
    np.testing.assert_array_equal(np.load(target), token_rows(none_model, TEXTS[:2]))


# --------------------------------------------------------------------------------------------
# Inputs and -o


def test_npy_output_is_the_api_array(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model, tmp_path: Path
) -> None:
    target = tmp_path / "vectors.npy"
    status, out, err = run(capsys, *embed_args(bert_mean_path, *TEXTS), "-o", target)
    assert status == 0
    assert out == ""  # -o alone keeps stdout clean
    assert err == f"embed-nb: saved 3 x 32 float32 embeddings to {target}\n"
    saved = np.load(target)
    assert saved.dtype == np.float32
    np.testing.assert_array_equal(saved, np.asarray(mean_model.embed(TEXTS)))
    # With a format as well, both happen.
    status, out, _ = run(
        capsys, *embed_args(bert_mean_path, *TEXTS, fmt="json"), "-o", tmp_path / "again.npy"
    )
    assert status == 0 and json.loads(out)["data"]


def test_npy_output_needs_npy_suffix(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, tmp_path: Path
) -> None:
    status, _, err = run(capsys, *embed_args(bert_mean_path, "x"), "-o", tmp_path / "v.txt")
    assert status == 2
    assert err.startswith("embed-nb: error: -o ")


def _array_for(capsys: pytest.CaptureFixture[str], argv: list[str]) -> np.ndarray:
    status, out, err = run(capsys, *argv, "--embd-output-format", "array")
    assert status == 0, err
    return np.array(json.loads(out))


def test_file_one_text_per_line(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model, tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")  # final newline is dropped
    got = _array_for(capsys, ["embed", "-m", str(bert_mean_path), "-f", str(source)])
    np.testing.assert_array_equal(got, printed(np.asarray(mean_model.embed(TEXTS))))


def test_stdin(
    capsys: pytest.CaptureFixture[str],
    bert_mean_path: Path,
    mean_model: Model,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = ("\n".join(TEXTS) + "\n").encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    got = _array_for(capsys, ["embed", "-m", str(bert_mean_path), "-f", "-"])
    np.testing.assert_array_equal(got, printed(np.asarray(mean_model.embed(TEXTS))))


def test_separator_in_prompt_and_file(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model, tmp_path: Path
) -> None:
    expected = printed(np.asarray(mean_model.embed(TEXTS)))
    sep = ["--embd-separator", "<#sep#>"]
    joined = "<#sep#>".join(TEXTS)
    got = _array_for(capsys, [*embed_args(bert_mean_path, joined), *sep])
    np.testing.assert_array_equal(got, expected)
    source = tmp_path / "texts.txt"
    source.write_text(joined, encoding="utf-8")
    got = _array_for(capsys, ["embed", "-m", str(bert_mean_path), "-f", str(source), *sep])
    np.testing.assert_array_equal(got, expected)
    # The default separator is a newline, in -p too (llama-embedding splits its one prompt).
    got = _array_for(capsys, embed_args(bert_mean_path, "\n".join(TEXTS)))
    np.testing.assert_array_equal(got, expected)


def test_prompts_and_files_keep_their_order(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model, tmp_path: Path
) -> None:
    source = tmp_path / "middle.txt"
    source.write_text(TEXTS[1], encoding="utf-8")
    argv = ["embed", "-m", str(bert_mean_path), "-p", TEXTS[0], "-f", str(source), "-p", TEXTS[2]]
    got = _array_for(capsys, argv)
    np.testing.assert_array_equal(got, printed(np.asarray(mean_model.embed(TEXTS))))


def test_truncate_and_chunk(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, mean_model: Model
) -> None:
    long_text = "the cat sits on the mat " * 40  # far over the tiny model's 128 tokens
    status, _, err = run(capsys, *embed_args(bert_mean_path, long_text))
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("embed-nb: error: input 0 has ") and "--truncate" in err
    for flag in ("--truncate", "--chunk"):
        got = _array_for(capsys, [*embed_args(bert_mean_path, long_text), flag])
        expected = mean_model.embed([long_text], **{flag[2:]: True})  # type: ignore[arg-type]
        np.testing.assert_array_equal(got, printed(np.asarray(expected)))
    status, _, err = run(capsys, *embed_args(bert_mean_path, "x"), "--truncate", "--chunk")
    assert status == 2 and "not allowed with" in err


# --------------------------------------------------------------------------------------------
# Rerankers


def test_rerank_command_prints_llama_server_shape(
    capsys: pytest.CaptureFixture[str], reranker_path: Path, reranker: Model
) -> None:
    docs = ["a cat sits on the mat", "the dog", "paris is the capital of france"]
    status, out, err = run(capsys, "rerank", "where is the cat", *docs, "-m", reranker_path)
    assert status == 0, err
    expected = reranker.rerank("where is the cat", docs).to_dict()
    assert json.loads(out) == expected
    assert set(expected) == {"model", "object", "usage", "results"}
    status, out, _ = run(
        capsys, "rerank", "where is the cat", *docs, "-m", reranker_path, "--top-n", "2"
    )
    assert json.loads(out) == reranker.rerank("where is the cat", docs, top_n=2).to_dict()


def test_rerank_documents_from_file(
    capsys: pytest.CaptureFixture[str], reranker_path: Path, reranker: Model, tmp_path: Path
) -> None:
    docs = ["a cat sits on the mat", "the dog"]
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(docs) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "rerank", "cat", "-f", source, "-m", reranker_path)
    assert status == 0
    assert json.loads(out) == reranker.rerank("cat", docs).to_dict()


def test_embed_with_reranker_scores_tab_separated_pairs(
    capsys: pytest.CaptureFixture[str], reranker_path: Path, reranker: Model
) -> None:
    docs = ["a cat sits on the mat", "the dog", "a cat"]
    prompts = [f"cat\t{doc}" for doc in docs]
    argv = [*embed_args(reranker_path, *prompts), "--embd-normalize", "-1"]
    status, summary, _ = run(capsys, *argv)
    assert status == 0
    by_index = {hit.index: hit.score for hit in reranker.rerank("cat", docs)}
    # embedding.cpp: "rerank score %d: %8.3f" for a single-output classifier.
    lines = "".join(f"rerank score {j}: {by_index[j]:8.3f}\n" for j in range(3))
    assert summary == "\n" + lines + "\n"
    status, raw, _ = run(capsys, *argv, "--embd-output-format", "raw")
    assert [float(v) for v in raw.split()] == [float(f"{by_index[j]:.7f}") for j in range(3)]
    # Without --embd-normalize a reranker's scores stay raw (llama-embedding would print the
    # meaningless L2 norm of one number); asked for, normalisation still applies.
    assert run(capsys, *embed_args(reranker_path, *prompts))[1] == summary
    assert run(capsys, *embed_args(reranker_path, *prompts, fmt="raw"))[1] == raw
    argv = [*embed_args(reranker_path, *prompts, fmt="raw"), "--embd-normalize", "2"]
    assert [abs(float(v)) for v in run(capsys, *argv)[1].split()] == [1.0, 1.0, 1.0]


def test_rerank_with_an_embedding_model_ranks_by_cosine(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path
) -> None:
    status, out, _ = run(capsys, "rerank", "cat", "a cat", "a dog", "-m", bert_mean_path)
    assert status == 0
    ranked = json.loads(out)["results"]
    assert sorted(r["index"] for r in ranked) == [0, 1]
    scores = [r["relevance_score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)


def test_rerank_with_a_per_token_model_is_one_line_error(
    capsys: pytest.CaptureFixture[str], bert_none_path: Path
) -> None:
    status, out, err = run(capsys, "rerank", "q", "d", "-m", bert_none_path)
    assert status == 1
    assert out == ""
    assert err.startswith("embed-nb: error: ") and err.count("\n") == 1


def test_rerank_needs_documents(capsys: pytest.CaptureFixture[str], reranker_path: Path) -> None:
    status, _, err = run(capsys, "rerank", "q", "-m", reranker_path)
    assert status == 2
    assert (
        err == "embed-nb: error: no documents to rank: give them after the query or with -f FILE\n"
    )


# --------------------------------------------------------------------------------------------
# info


def test_info(capsys: pytest.CaptureFixture[str], reranker_path: Path) -> None:
    status, out, _ = run(capsys, "info", "-m", reranker_path)
    assert status == 0
    assert re.search(r"^pooling\s+rank$", out, re.M)
    assert re.search(r"^embedding size\s+1$", out, re.M)
    status, out, _ = run(capsys, "info", "-m", reranker_path, "--json", "-c", "64")
    facts = json.loads(out)
    assert facts["pooling"] == "rank"
    assert facts["n_ctx"] == 64
    assert facts["path"] == str(reranker_path.resolve())


def test_info_names_the_precision_and_the_device(
    capsys: pytest.CaptureFixture[str],
    bert_mean_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embed_nb.engine import native

    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))  # the bf16 copy goes here
    status, out, _ = run(capsys, "info", "-m", bert_mean_path, "--precision", "fast", "--json")
    facts = json.loads(out)
    assert status == 0 and facts["precision"] == "fast"
    if native.cpu_has_bf16():
        assert facts["precision_used"] == "fast (bf16 copy)"
        assert facts["fingerprint"].endswith("-bf16")
    if not native.supports_gpu_offload():
        assert (facts["backend"], facts["n_gpu_layers"]) == ("CPU", 0)
    status, out, _ = run(capsys, "info", "-m", bert_mean_path)
    assert status == 0 and re.search(r"^precision\s+exact \(the file as it is\)$", out, re.M)
    status, _, err = run(capsys, "info", "-m", bert_mean_path, "--upcast", "--precision", "fast")
    assert status == 2
    assert_one_line_error(err, "upcast=True (an f32 copy) and precision='fast'")


# --------------------------------------------------------------------------------------------
# Errors


def assert_one_line_error(err: str, starts: str) -> None:
    assert err.startswith(f"embed-nb: error: {starts}"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_missing_input_file(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.txt"
    status, out, err = run(capsys, "embed", "-m", bert_mean_path, "-f", missing)
    assert status == 2 and out == ""
    assert err == f"embed-nb: error: cannot read {missing}: No such file or directory\n"


def test_bad_normalize_fails_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    # The model does not exist: the normalize check must come first to give this message.
    status, _, err = run(
        capsys, "embed", "-m", "/no/such.gguf", "-p", "x", "--embd-normalize", "-2"
    )
    assert status == 2
    assert_one_line_error(err, "--embd-normalize -2 is not valid")


def test_model_not_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(capsys, "embed", "-m", tmp_path / "missing.gguf", "-p", "x")
    assert status == 2 and out == ""
    assert_one_line_error(err, "no model found for ")


def test_not_a_gguf_is_a_load_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    status, _, err = run(capsys, "info", "-m", bogus)
    assert status == 1
    assert_one_line_error(err, f"{bogus.resolve()} is not a GGUF file")


def test_no_text(capsys: pytest.CaptureFixture[str], bert_mean_path: Path) -> None:
    status, _, err = run(capsys, "embed", "-m", bert_mean_path)
    assert status == 2
    assert_one_line_error(err, "no text to embed")


def test_file_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "latin1.txt"
    source.write_bytes("café".encode("latin-1"))
    status, _, err = run(capsys, "embed", "-f", source)
    assert status == 2
    assert_one_line_error(err, f"{source} is not UTF-8 text")


def test_local_options_with_server_url(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "embed", "-m", "http://127.0.0.1:9", "-p", "x", "-c", "64")
    assert status == 2
    assert_one_line_error(err, "-c, -t, -ngl and -fa set up a local model")


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "embed", "-p", "x", "--embd-output-format", "yaml")
    assert status == 2 and "invalid choice" in err
    status, _, err = run(capsys, "embed", "-p", "x", "-ngl", "many")
    assert status == 2 and "give a number of layers" in err
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "embed" in out and "rerank" in out


# --------------------------------------------------------------------------------------------
# As a process


def _subprocess(*argv: object, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "embed_nb", *map(str, argv)],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_subprocess_json_and_quiet_stderr(bert_mean_path: Path, mean_model: Model) -> None:
    done = _subprocess("embed", "-m", bert_mean_path, "-f", "-", "--embd-output-format", "json+",
                       stdin="\n".join(TEXTS).encode())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # llama.cpp's log lines never reach the terminal
    data = json.loads(done.stdout)
    got = np.array([item["embedding"] for item in data["data"]])
    np.testing.assert_array_equal(got, printed(np.asarray(mean_model.embed(TEXTS))))
    assert len(data["cosineSimilarity"]) == 3


def test_subprocess_error_is_one_line(tmp_path: Path) -> None:
    done = _subprocess("embed", "-m", tmp_path / "missing.gguf", "-p", "x")
    assert done.returncode == 2
    assert done.stdout == b""
    assert_one_line_error(done.stderr.decode(), "no model found for ")


def test_module_entry_point_runs_cli(bert_mean_path: Path) -> None:
    # `python -m embed_nb.cli` is what the Makefile's demo target runs.
    done = subprocess.run(
        [sys.executable, "-m", "embed_nb.cli", "info", "-m", str(bert_mean_path), "--json"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pooling"] == "mean"


# --------------------------------------------------------------------------------------------
# The real default model


@pytest.mark.integration
def test_demo_command_with_default_model(
    capsys: pytest.CaptureFixture[str], default_model_path: Path
) -> None:
    texts = ["The cat sits on the mat", "A feline rests on the rug", "Python programming language"]
    # The Makefile's `make demo` command line, by the default model's name.
    argv = ["embed", "-m", "all-minilm-l6-v2", "--embd-output-format", "json+"]
    for text in texts:
        argv += ["-p", text]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    data = json.loads(out)
    with embed_nb.load_model("all-minilm-l6-v2") as model:
        expected = np.asarray(model.embed(texts))
    got = np.array([item["embedding"] for item in data["data"]])
    assert got.shape == (3, 384)
    np.testing.assert_array_equal(got, printed(expected))
    sims = np.array(data["cosineSimilarity"])
    assert sims[0, 1] > sims[0, 2] + 0.3  # cat/feline far closer than cat/Python
    np.testing.assert_array_equal(sims, printed(cosine_matrix(expected), ".2f"))


# --------------------------------------------------------------------------------------------
# Hostile arguments and outputs (issue 9): one line on stderr, a non-zero status, nothing lost


def test_unknown_options_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("embed", "-p", "x", "--bogus"), ("rerank", "q", "--nope"), ("fly",), ()):
        status, out, err = run(capsys, *argv)
        assert status == 2 and out == ""
        assert err.startswith("embed-nb: error: ") and err.count("\n") == 1, err
    status, _, err = run(capsys, "embed", "-p", "x", "--bogus")
    assert "unrecognized arguments: --bogus" in err


def test_an_endless_input_file_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    status, _, err = run(capsys, "embed", "-m", "/no/such.gguf", "-f", "/dev/zero")
    assert status == 2
    assert_one_line_error(err, "/dev/zero holds more than 64 MiB")


def test_an_input_over_the_limit_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embed_nb.cli import _texts

    monkeypatch.setattr(_texts, "MAX_INPUT_BYTES", 10)
    source = tmp_path / "big.txt"
    source.write_text("a\n" * 20)
    status, _, err = run(capsys, "rerank", "q", "-f", source, "-m", "/no/such.gguf")
    assert status == 2
    assert_one_line_error(err, f"{source} holds more than 10 bytes")
    status, _, err = run(capsys, "embed", "-f", tmp_path)
    assert_one_line_error(err, f"cannot read {tmp_path}: it is a directory")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("missing/out.npy", "the directory {dir}/missing does not exist"),
        ("", "that is a directory"),
        ("out.txt", "must end in .npy"),
    ],
)
def test_bad_output_paths_fail_before_loading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str, expected: str
) -> None:
    target = f"{tmp_path}/{where}" if where else f"{tmp_path}.npy"
    if not where:
        Path(target).mkdir()
    status, _, err = run(capsys, "embed", "-m", "/no/such.gguf", "-p", "x", "-o", target)
    assert status == 2
    assert expected.format(dir=tmp_path) in err and err.count("\n") == 1, err


def test_an_output_on_a_full_device_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bert_mean_path: Path
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    link = tmp_path / "full.npy"
    link.symlink_to("/dev/full")
    status, _, err = run(capsys, "embed", "-m", bert_mean_path, "-p", "x", "-o", link)
    assert status == 1
    assert_one_line_error(err, f"cannot write {link}: No space left on device")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories anyway")
def test_an_output_in_a_read_only_directory_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bert_mean_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        status, _, err = run(
            capsys, "embed", "-m", bert_mean_path, "-p", "x", "-o", locked / "out.npy"
        )
    finally:
        locked.chmod(0o755)
    assert status == 1
    assert_one_line_error(err, f"cannot write {locked / 'out.npy'}: Permission denied")


def _limited(limit: int, ignore_signal: bool) -> Callable[[], None]:
    def apply() -> None:
        import resource
        import signal

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if ignore_signal:  # then the write fails with EFBIG instead of killing the process
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


@pytest.mark.parametrize("ignore_signal", [True, False])
def test_a_failed_output_write_keeps_the_good_file(
    tmp_path: Path, bert_mean_path: Path, ignore_signal: bool
) -> None:
    pytest.importorskip("resource")
    target = tmp_path / "out.npy"
    argv = [sys.executable, "-m", "embed_nb", "embed", "-m", str(bert_mean_path), "-o", str(target)]
    good = subprocess.run([*argv, "-p", "a"], capture_output=True, timeout=120, check=False)
    assert good.returncode == 0, good.stderr
    before = target.read_bytes()
    bigger = [arg for text in ("b", "c", "d", "e") for arg in ("-p", text)]
    done = subprocess.run(
        [*argv, *bigger],
        capture_output=True,
        timeout=120,
        check=False,
        preexec_fn=_limited(len(before) + 10, ignore_signal),
    )
    assert done.returncode != 0
    assert target.read_bytes() == before  # the old output is whole
    if ignore_signal:
        err = done.stderr.decode()
        assert_one_line_error(err, f"cannot write {target}: File too large")
        assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]  # no temporary left


def test_stdout_on_a_full_device_is_one_line(bert_mean_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "embed_nb", "embed", "-m", str(bert_mean_path), "-p", "x"],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert_one_line_error(done.stderr.decode(), "cannot write the output: No space left")


def test_odd_separators_and_numbers_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (("embed", "-p", "x", "--cls-separator", ""), "--cls-separator must not be empty"),
        (("embed", "-p", "x", "--embd-separator", ""), "the separator must not be empty"),
        (("embed", "-p", "x", "--embd-normalize", str(10**400)), "--embd-normalize"),
        (("embed", "-p", "x", "--embd-normalize", "1e9"), "invalid int value"),
        (("rerank", "q", "d", "-m", "x.gguf", "--top-n", "-3"), "--top-n must be 0 or more"),
        (("embed", "-p", "x", "-ngl", "many"), "give a number of layers"),
    ]
    for argv, expected in cases:
        status, _, err = run(capsys, "embed" if not argv else argv[0], *argv[1:])
        assert status == 2, argv
        assert expected in err and err.count("\n") == 1, err
