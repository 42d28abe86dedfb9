"""Load options are bounded by what llama.cpp and the machine allow, and a failed load frees
everything it made; normalize and texts of the wrong kind get one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed_nb.engine import LocalModel
from embed_nb.engine import model as model_module
from embed_nb.engine.normalize import check_normalize
from embed_nb.engine.options import MAX_CONTEXTS
from embed_nb.errors import InvalidInputError, ModelLoadError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_ctx": 2**32 + 8}, "n_ctx"),
        ({"n_ctx": 10**400}, "n_ctx"),
        ({"n_ctx": 1.5}, "n_ctx"),
        ({"n_threads": 10**6}, "n_threads"),
        ({"n_threads": 0}, "n_threads"),
        ({"n_contexts": 1000}, "n_contexts"),
        ({"n_threads": 1, "n_contexts": 2}, "n_contexts"),
        ({"n_ubatch": 2**40}, "n_ubatch"),
        ({"batch_tokens": True}, "batch_tokens"),
        ({"n_gpu_layers": "all"}, "-1 for all"),
        ({"n_gpu_layers": -2}, "n_gpu_layers"),
        ({"n_gpu_layers": 2.0}, "n_gpu_layers"),
        ({"flash_attn": []}, "flash_attn"),
        ({"flash_attn": None}, "flash_attn"),
        ({"pooling": 3}, "pooling"),
        ({"pooling": ["mean"]}, "pooling"),
        ({"upcast": "yes"}, "upcast"),
        ({"name": 5}, "name"),
        ({"precision": "quick"}, "precision must be one of exact, fast, not 'quick'"),
        ({"precision": None}, "precision must be one of"),
        ({"precision": 1}, "precision must be one of"),
        ({"precision": "fast", "upcast": True}, "contradict each other"),
    ],
)
def test_out_of_range_options_are_one_line_errors(
    bert_mean_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        LocalModel(bert_mean_path, **options)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("path", [None, 123, b"/tmp/model.gguf", "", "a\0b"])
def test_a_path_of_the_wrong_kind_is_refused(path: object) -> None:
    with pytest.raises(InvalidInputError):
        LocalModel(path)  # type: ignore[arg-type]


def test_a_decoder_context_too_big_for_memory_is_refused(llama_last_path: Path) -> None:
    """n_ctx=2**31-1 on a decoder asks for a KV cache of terabytes: refused before llama.cpp
    allocates it (and before a 2**32+ value could wrap in ctypes)."""
    with pytest.raises(InvalidInputError, match="GiB"):
        LocalModel(llama_last_path, n_ctx=2**31 - 1)
    with LocalModel(llama_last_path, n_ctx=4096) as model:
        assert model.info.n_ctx == 4096


def test_many_threads_make_a_bounded_number_of_contexts(bert_mean_path: Path) -> None:
    with LocalModel(bert_mean_path, n_threads=8) as model:
        assert model.info.n_contexts <= MAX_CONTEXTS
        assert np.isfinite(np.asarray(model.embed(["a", "b", "c"]))).all()


def test_a_failed_load_frees_what_it_made(
    bert_mean_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    freed: list[object] = []
    real = model_module.DecodeContext

    class FailingThird(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object) -> None:
            if len(made) == 2:
                raise ModelLoadError("llama.cpp could not create a context: out of memory")
            super().__init__(*args)
            made.append(self)

        def free(self) -> None:
            if self.ctx:
                freed.append(self)
            super().free()

    monkeypatch.setattr(model_module, "DecodeContext", FailingThird)
    with pytest.raises(ModelLoadError, match="context"):
        LocalModel(bert_mean_path, n_threads=4, n_contexts=4)
    assert len(made) == 2 and sorted(map(id, freed)) == sorted(map(id, made))
    monkeypatch.setattr(model_module, "DecodeContext", real)
    with LocalModel(bert_mean_path, n_threads=4, n_contexts=4) as model:  # the next load works
        assert model.embed("fine").shape == (model.n_embd,)


@pytest.mark.parametrize(
    "value", [10**400, 2**31, 2.0, 2.5, float("nan"), float("inf"), True, "2", None, -2]
)
def test_bad_normalize_values_are_one_line_errors(bert_mean: LocalModel, value: object) -> None:
    with pytest.raises(InvalidInputError, match="normalize"):
        check_normalize(value)
    with pytest.raises(InvalidInputError, match="normalize"):
        bert_mean.embed("text", normalize=value)  # type: ignore[arg-type]


def test_a_large_p_norm_is_finite_and_unit(bert_mean: LocalModel) -> None:
    vector = np.asarray(bert_mean.embed("a cat", normalize=2**31 - 1), dtype=np.float64)
    assert np.isfinite(vector).all()
    assert np.abs(vector).max() == pytest.approx(1.0, rel=1e-5)  # the inf-norm, in the limit
    np.testing.assert_allclose(
        bert_mean.embed("a cat", normalize=3),
        (v := np.asarray(bert_mean.embed("a cat", normalize=-1), dtype=np.float64))
        / (np.abs(v) ** 3).sum() ** (1 / 3),
        rtol=1e-5,
    )


def test_a_dataframe_is_refused_with_a_hint(bert_mean: LocalModel) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"text": ["a cat", "a dog"], "label": [1, 2]})
    with pytest.raises(InvalidInputError, match=r"pick a column: df\['text'\]"):
        bert_mean.embed(frame)
    assert bert_mean.embed(frame["text"]).shape == (2, bert_mean.n_embd)  # a Series is fine


@pytest.mark.parametrize(
    ("texts", "message"),
    [({"a", "b"}, "set has no order"), ({"text": "a"}, "dict"), (np.array([["a"]]), "1-D")],
)
def test_unordered_or_nested_texts_are_refused(
    bert_mean: LocalModel, texts: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        bert_mean.embed(texts)  # type: ignore[arg-type]
