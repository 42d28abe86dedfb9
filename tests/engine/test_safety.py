"""Bad input gets a clear error and the model keeps working: nothing reaches a GGML_ASSERT."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from signals import default_sigint

from embed_nb import EmbedNbError, InputTooLongError, InvalidInputError, ModelClosedError
from embed_nb.engine import LocalModel


def still_works(model: LocalModel) -> None:
    vector = np.asarray(model.embed("The cat sits on the mat"))
    assert vector.shape == (model.n_embd,) and np.isfinite(vector).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "empty"),
        (123, "not int"),
        (None, "NoneType"),
        (b"bytes", "decode text bytes first"),
        (["ok", 5], r"texts\[1\] is int"),
        (["ok", None], r"texts\[1\] is NoneType"),
        ("lone \ud800 surrogate", "lone surrogate"),
        (["fine", "bad \udfff"], "text 1 holds a lone surrogate"),
    ],
)
def test_bad_texts_get_a_clear_error(bert_mean: LocalModel, bad: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        bert_mean.embed(bad)  # type: ignore[arg-type]
    still_works(bert_mean)


def test_the_empty_string_embeds_as_its_special_tokens(bert_mean: LocalModel) -> None:
    # llama-server embeds "" as [CLS] [SEP] for BERT; it only refuses an empty token list.
    result = bert_mean.embed("")
    assert result.token_counts == [2]
    assert np.isfinite(np.asarray(result)).all()


def test_control_characters_and_odd_unicode_embed(bert_mean: LocalModel) -> None:
    texts = [
        "\x00\x01\x02",
        "\x1b[31mred\x1b[0m",
        "tab\tnew\nline\r",
        "\u200b\ufeff",
        "🐼 panda",
        "[CLS] [SEP] [MASK]",
        "a" * 5 + "\u0301",
    ]
    vectors = np.asarray(bert_mean.embed(texts))
    assert vectors.shape == (len(texts), bert_mean.n_embd) and np.isfinite(vectors).all()
    still_works(bert_mean)


def test_a_huge_text_is_refused_cleanly_and_chunks_when_asked(bert_mean: LocalModel) -> None:
    huge = "word " * 200_000
    with pytest.raises(InputTooLongError):
        bert_mean.embed(huge)
    still_works(bert_mean)
    assert bert_mean.embed("x " * 2000, chunk=True).shape == (bert_mean.n_embd,)


def test_llama_cpp_aborts_where_the_engine_packs_safely(bert_mean_path: Path) -> None:
    """Llama.embed packs up to n_batch tokens into one decode; past n_ubatch that is a
    GGML_ASSERT that kills the process. The engine never lets a decode outgrow n_ubatch."""
    texts = ["the quick brown fox jumps over the lazy dog"] * 8
    script = (
        "import sys; from llama_cpp import Llama\n"
        f"llm = Llama(model_path={str(bert_mean_path)!r}, embedding=True, n_ctx=128, "
        "n_batch=128, n_ubatch=16, verbose=False)\n"
        f"llm.embed({texts!r})\n"
    )
    crashed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert crashed.returncode != 0, "llama-cpp-python no longer aborts here; keep the test honest"
    assert b"GGML_ASSERT" in crashed.stderr or crashed.returncode < 0

    with LocalModel(bert_mean_path, n_ubatch=16) as model:
        vectors = np.asarray(model.embed(texts))
        assert vectors.shape == (8, model.n_embd)
        with pytest.raises(InputTooLongError, match="limit of 16"):
            model.embed("the quick brown fox jumps over the lazy dog " * 3)
        still_works(model)


def test_keyboard_interrupt_between_decodes_leaves_the_model_usable(
    bert_mean_path: Path,
) -> None:
    texts = [f"sentence number {i} about cats" for i in range(40)]
    with LocalModel(bert_mean_path, batch_tokens=16) as model:
        expected = np.asarray(model.embed(texts))
        calls = []

        def interrupt(done: int, total: int) -> None:
            calls.append(done)
            if len(calls) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            model.embed(texts, progress=interrupt)
        assert calls[-1] < len(texts)
        np.testing.assert_allclose(np.asarray(model.embed(texts)), expected, atol=1e-6)


def test_concurrent_calls_are_serialised_and_correct(bert_mean: LocalModel) -> None:
    texts = [f"text {i} on a thread" for i in range(30)]
    expected = np.asarray(bert_mean.embed(texts))
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(np.asarray(bert_mean.embed(texts)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_closed_model_raises_a_clear_error(bert_mean_path: Path) -> None:
    model = LocalModel(bert_mean_path)
    model.close()
    model.close()  # twice is fine
    assert model.closed
    for call in (lambda: model.embed("x"), lambda: model.tokenize("x")):
        with pytest.raises(ModelClosedError, match="closed"):
            call()


@pytest.mark.parametrize(
    "options",
    [
        {"n_ctx": 0},
        {"n_ctx": -5},
        {"n_threads": "two"},
        {"pooling": "median"},
        {"flash_attn": "maybe"},
        {"n_ctx": 100_000},
    ],
)
def test_bad_load_options_are_refused(bert_mean_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        LocalModel(bert_mean_path, **options)  # type: ignore[arg-type]


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(EmbedNbError, match=r"not a valid GGUF|could not load"):
        LocalModel(junk)


def test_a_real_sigint_during_a_long_embed_leaves_the_model_usable(bert_mean_path: Path) -> None:
    """Ctrl-C as a kernel interrupt sends it: SIGINT to the process, mid-job."""
    script = f"""
import os, signal, sys, threading
import numpy as np
from embed_nb.engine import LocalModel
model = LocalModel({str(bert_mean_path)!r}, batch_tokens=16)
texts = [f"sentence {{i}} about a cat on a mat" for i in range(20000)]
def interrupt(done, total):
    if done >= 50 and not getattr(interrupt, "sent", False):
        interrupt.sent = True
        os.kill(os.getpid(), signal.SIGINT)
try:
    model.embed(texts, progress=interrupt)
    print("finished without interrupt")
except KeyboardInterrupt:
    print("interrupted")
vector = np.asarray(model.embed("still here"))
print("usable", vector.shape, bool(np.isfinite(vector).all()))
"""
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=default_sigint,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "interrupted" in run.stdout
    assert "usable (32,) True" in run.stdout
