"""Model.embed on tiny GGUF models: shapes, packing, pooling, normalisation, long inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed_nb import Embeddings, InputTooLongError, InvalidInputError
from embed_nb.engine import LocalModel, native
from embed_nb.engine.normalize import normalize

SENTENCES = [
    "The cat sits on the mat",
    "A feline rests on the rug",
    "Python programming language",
    "the quick brown fox jumps over the lazy dog",
    "hello",
]


def test_a_str_gives_a_vector_and_a_list_gives_a_matrix(bert_mean: LocalModel) -> None:
    one = bert_mean.embed("hello")
    many = bert_mean.embed(SENTENCES)
    assert isinstance(one, Embeddings)
    assert np.asarray(one).shape == (bert_mean.n_embd,)
    assert np.asarray(many).shape == (len(SENTENCES), bert_mean.n_embd)
    assert np.asarray(many).dtype == np.float32
    assert many.texts == SENTENCES
    assert many.token_counts == [len(bert_mean.tokenize(t)) for t in SENTENCES]
    assert many.pooling == "mean" and many.normalize == 2 and many.fingerprint


@pytest.mark.parametrize("fixture", ["bert_mean_path", "bert_cls_path", "llama_last_path"])
def test_packing_many_texts_gives_the_same_vectors_as_one_at_a_time(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    # A tiny budget forces many decodes; the default packs all five into one.
    with LocalModel(path) as packed, LocalModel(path, batch_tokens=8) as small:
        together = np.asarray(packed.embed(SENTENCES))
        split = np.asarray(small.embed(SENTENCES))
        alone = np.stack([np.asarray(packed.embed(t)) for t in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(split, alone, atol=1e-5)


def test_pooling_option_overrides_the_model(bert_mean_path: Path) -> None:
    with LocalModel(bert_mean_path, pooling="cls") as model:
        assert model.pooling == "cls"
        assert model.embed("hello").pooling == "cls"


def test_pooling_none_gives_one_row_per_token_for_any_number_of_inputs(
    bert_none_path: Path,
) -> None:
    with LocalModel(bert_none_path) as model:
        result = model.embed(SENTENCES)
        assert result.token_vectors is not None and result.vectors is None
        for text, rows in zip(SENTENCES, result.token_vectors, strict=True):
            assert rows.shape == (len(model.tokenize(text)), model.n_embd)
            alone = model.embed(text)
            np.testing.assert_allclose(rows, np.asarray(alone), atol=1e-5)
        with pytest.raises(TypeError, match="token_vectors"):
            np.asarray(result)


@pytest.mark.parametrize("mode", [-1, 0, 1, 2, 3, 7])
def test_normalisation_follows_common_embd_normalize(bert_mean: LocalModel, mode: int) -> None:
    raw = np.asarray(bert_mean.embed(SENTENCES, normalize=-1)).astype(np.float64)
    got = np.asarray(bert_mean.embed(SENTENCES, normalize=mode))
    if mode == -1:
        expected = raw
    elif mode == 0:
        expected = raw * (32760.0 / np.abs(raw).max(axis=1, keepdims=True))
    else:
        expected = raw / (np.abs(raw) ** mode).sum(axis=1, keepdims=True) ** (1 / mode)
    np.testing.assert_allclose(
        got, expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max())
    )


def test_normalize_keeps_zero_rows_zero() -> None:
    assert not normalize(np.zeros((2, 4), np.float32), 2).any()


@pytest.mark.parametrize("bad", [-2, 1.5, "2", True, None])
def test_bad_normalize_values_are_refused(bert_mean: LocalModel, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="normalize"):
        bert_mean.embed("hello", normalize=bad)  # type: ignore[arg-type]


def long_text(model: LocalModel, factor: float = 1.5) -> str:
    return " ".join(["cat"] * int(model.max_tokens * factor))


def test_a_text_longer_than_the_context_is_an_error_naming_count_and_limit(
    bert_mean: LocalModel,
) -> None:
    text = long_text(bert_mean)
    n = len(bert_mean.tokenize(text))
    with pytest.raises(
        InputTooLongError, match=rf"input 1 has {n} tokens.*limit of {bert_mean.max_tokens}"
    ):
        bert_mean.embed(["short", text])


def test_truncate_cuts_and_keeps_the_closing_special_token(bert_mean: LocalModel) -> None:
    text = long_text(bert_mean)
    tokens = bert_mean.tokenize(text)
    result = bert_mean.embed(text, truncate=True)
    assert result.token_counts == [bert_mean.max_tokens]
    # The same vector as embedding the cut token sequence by hand: [CLS] body... [SEP].
    kept = tokens[: bert_mean.max_tokens - 1] + tokens[-1:]
    by_hand = bert_mean.embed_tokens([kept])
    np.testing.assert_allclose(np.asarray(result), np.asarray(by_hand)[0], atol=1e-5)


def test_chunk_embeds_overlapping_windows_and_averages_them(bert_mean: LocalModel) -> None:
    text = long_text(bert_mean, 2.5)
    result = bert_mean.embed([text, "short"], chunk=True)
    vectors = np.asarray(result)
    assert vectors.shape == (2, bert_mean.n_embd)
    assert result.token_counts[0] > bert_mean.max_tokens  # every window's tokens are counted
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_truncate_and_chunk_together_are_refused(bert_mean: LocalModel) -> None:
    with pytest.raises(InvalidInputError, match="truncate"):
        bert_mean.embed("x", truncate=True, chunk=True)


def test_token_id_input_is_checked_against_the_vocab(bert_mean: LocalModel) -> None:
    ids = bert_mean.tokenize("hello")
    np.testing.assert_allclose(
        np.asarray(bert_mean.embed_tokens([ids]))[0],
        np.asarray(bert_mean.embed("hello")),
        atol=1e-6,
    )
    n_vocab = bert_mean.info.vocab_size
    for bad in ([n_vocab], [-1], [2**40], []):
        with pytest.raises(InvalidInputError):
            bert_mean.embed_tokens([bad])
    assert np.isfinite(np.asarray(bert_mean.embed("still works"))).all()


def test_info_is_readable(bert_mean: LocalModel) -> None:
    text = repr(bert_mean.info)
    for field in (
        "path",
        "architecture",
        "embedding size",
        "context",
        "pooling",
        "vocab size",
        "file size",
        "quantization",
        "backend",
    ):
        assert field in text
    assert bert_mean.info.architecture == "bert"
    assert bert_mean.info.backend == "CPU"


@pytest.mark.filterwarnings("ignore::embed_nb.engine.placement.CpuOnlyBuildWarning")
def test_n_gpu_layers_is_accepted_on_a_cpu_build(bert_mean_path: Path) -> None:
    with LocalModel(bert_mean_path, n_gpu_layers=99) as model:
        assert model.embed("hello").shape == (model.n_embd,)
        if not native.supports_gpu_offload():  # what ran, not what was asked
            assert (model.info.backend, model.info.n_gpu_layers) == ("CPU", 0)
