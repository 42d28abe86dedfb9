"""``embed-nb embed`` against llama.cpp's REAL ``llama-embedding`` on the same GGUF: every
``--embd-output-format`` must parse to the same numbers, with the same words around them.

``embed-nb`` runs both on the in-kernel engine and through a real llama-server (``-m URL``).
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from llama_servers import LlamaServer

from embed_nb.cli import main as cli_main

Factory = Callable[..., LlamaServer]
PROMPTS = "The cat sits on the mat\nA feline rests on the rug\nPython programming language"
FORMATS = ["", "array", "json", "json+", "raw"]
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")
ATOL = 1e-4


def llama_embedding(binary: Path, model: Path, args: list[str], n_lines: int) -> str:
    """llama-embedding's stdout, run until it is whole.

    This llama.cpp's logger is asynchronous and never flushed at exit (``common_log_main``
    leaks it on purpose, llama.cpp issue 22142), so llama-embedding often loses the tail of its
    output. Its output is deterministic and always ends with a blank line (the closing
    ``LOG("\\n")``), so a run that ends so with the expected number of lines is whole. A real
    difference in layout never passes that check, and fails after the last try.
    """
    longest = ""
    for _ in range(30):
        done = subprocess.run(
            [str(binary), "-m", str(model), "-t", "2", "-fa", "off", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        if done.stdout.endswith("\n\n") and len(done.stdout.splitlines()) == n_lines:
            return done.stdout
        longest = max(longest, done.stdout, key=len)
    return longest


def embed_nb(source: str, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli_main(["embed", "-m", source, *args])
    assert status == 0
    return out.getvalue()


def assert_same_output(ours: str, theirs: str, atol: float) -> None:
    """Same lines, same words; numbers equal within atol (0.01 for two-decimal cosines)."""
    our_lines = [line for line in ours.strip().splitlines() if line.strip()]
    their_lines = [line for line in theirs.strip().splitlines() if line.strip()]
    assert len(our_lines) == len(their_lines), (ours, theirs)
    worst = 0.0
    for a, b in zip(our_lines, their_lines, strict=True):
        assert NUMBER.sub("#", a).split() == NUMBER.sub("#", b).split(), (a, b)
        xs = [float(x) for x in NUMBER.findall(a)]
        ys = [float(y) for y in NUMBER.findall(b)]
        two_decimals = re.search(r"\d\.\d\d(?!\d)", b) is not None
        tolerance = 0.0101 if two_decimals else atol
        for x, y in zip(xs, ys, strict=True):
            assert abs(x - y) <= tolerance, (a, b)
            if not two_decimals:
                worst = max(worst, abs(x - y))
    print(f"max |diff| = {worst:.1e}")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("normalize", ["2", "-1", "0"])
@pytest.mark.parametrize("via", ["local", "server"])
def test_embed_output_parses_to_llama_embeddings_numbers(
    fmt: str,
    normalize: str,
    via: str,
    bert_mean_path: Path,
    llama_embedding_bin: Path,
    server_factory: Factory,
) -> None:
    args = ["--embd-output-format", fmt, "--embd-normalize", normalize, "-p", PROMPTS]
    source = server_factory(bert_mean_path).url if via == "server" else str(bert_mean_path)
    local_only = ["-fa", "off", "-t", "2"] if via == "local" else []
    ours = embed_nb(source, *local_only, *args)
    theirs = llama_embedding(llama_embedding_bin, bert_mean_path, args, len(ours.splitlines()))
    scale = 32760.0 if normalize == "0" else 1.0
    assert_same_output(ours, theirs, ATOL * scale + (0.5 if normalize == "0" else 0))


@pytest.mark.parametrize("fmt", ["", "json"])
def test_pooling_none_prints_every_token_like_llama_embedding(
    fmt: str, bert_none_path: Path, llama_embedding_bin: Path
) -> None:
    args = ["--embd-output-format", fmt, "-p", "hello world\nthe cat"]
    ours = embed_nb(str(bert_none_path), "-fa", "off", "-t", "2", *args)
    theirs = llama_embedding(llama_embedding_bin, bert_none_path, args, len(ours.splitlines()))
    assert_same_output(ours, theirs, ATOL)


def test_reranker_scores_print_like_llama_embedding(
    reranker_path: Path, llama_embedding_bin: Path
) -> None:
    args = [
        "-p",
        "what is a cat\tthe cat sits\nwhat is a cat\tparis is big",
        "--embd-normalize",
        "-1",
    ]
    ours = embed_nb(str(reranker_path), "-fa", "off", "-t", "2", *args)
    theirs = llama_embedding(llama_embedding_bin, reranker_path, args, len(ours.splitlines()))
    assert_same_output(ours, theirs, 1e-3)  # printed with %8.3f
