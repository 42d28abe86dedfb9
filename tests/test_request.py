"""EmbedRequest, and cache keys that stay what they were before the request existed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import embed_nb
from embed_nb.cache import EmbeddingCache, cache_key
from embed_nb.engine.model import LocalModel
from embed_nb.errors import InvalidInputError
from embed_nb.request import EmbedRequest
from embed_nb.results import Embeddings

# Computed with the cache_key of the commit before EmbedRequest (3ada2f2): if one changes, every
# user's cache misses once. Do not update them to make a test pass.
FIXED = [
    (("fp", "mean", 2, "text"), {}, "969a278f1e4a854566f7d878782d4bfa63256ed5"),
    (("fp", "none", -1, "tokens"), {}, "a93f33e097204db0c0de76b09cde959818e32bd2"),
    (("abc123", "cls", 1, "héllo \ud800"), {}, "912e004a4f73d769110d0b6953d3a0a288a4a1dd"),
    (
        ("fp", "mean", 2, "text"),
        {"truncate": True, "max_tokens": 512},
        "5d57949a833b488e4f0c38930af2c441aa9bb70a",
    ),
    (
        ("fp", "mean", 2, "text"),
        {"chunk": True, "max_tokens": 256},
        "4a5723493d18a2ff20774ea1d125375aa37b681f",
    ),
    (
        ("fp", "mean", 0, ""),
        {"truncate": True, "max_tokens": None},
        "fde51ecec264af1c1158f1ab28699e42dae39a66",
    ),
    (("fp", "mean", 2, "text"), {"max_tokens": 512}, "969a278f1e4a854566f7d878782d4bfa63256ed5"),
]


@pytest.mark.parametrize(("args", "options", "expected"), FIXED)
def test_cache_keys_are_the_ones_made_before_the_request(
    args: tuple[str, str, int, str], options: dict[str, object], expected: str
) -> None:
    fingerprint, pooling, normalize, text = args
    assert cache_key(fingerprint, pooling, normalize, text, **options) == expected  # type: ignore[arg-type]
    max_tokens = options.pop("max_tokens", None)
    request = EmbedRequest(normalize=normalize, **options)  # type: ignore[arg-type]
    assert cache_key(fingerprint, pooling, request, text, max_tokens=max_tokens) == expected  # type: ignore[arg-type]


def test_a_request_is_a_frozen_value() -> None:
    request = EmbedRequest(normalize=1, chunk=True)
    same = EmbedRequest(1, False, True)
    assert request == same and hash(request) == hash(same)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.normalize = 2  # type: ignore[misc]
    assert request.options() == {"normalize": 1, "truncate": False, "chunk": True}
    assert request.mode == "chunk" and EmbedRequest().mode == "strict"


def test_truncate_and_chunk_together_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        EmbedRequest(truncate=True, chunk=True)


def test_for_pooling_checks_normalize_and_gives_none_pooling_no_normalisation() -> None:
    assert EmbedRequest(normalize=2).for_pooling("none").normalize == -1
    assert EmbedRequest(normalize=1).for_pooling("mean").normalize == 1
    with pytest.raises(InvalidInputError):
        EmbedRequest(normalize=-2).for_pooling("mean")


def test_a_later_option_changes_the_key_only_when_set() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithPrompt(EmbedRequest):
        prompt: str = ""

    base = cache_key("fp", "mean", EmbedRequest(), "text")
    assert cache_key("fp", "mean", WithPrompt(), "text") == base
    assert cache_key("fp", "mean", WithPrompt(prompt="query: "), "text") != base


def test_a_model_takes_the_request_or_its_keyword_form(bert_mean: LocalModel) -> None:
    texts = ["the cat sat on the mat", " ".join(["cat"] * 300)]
    request = EmbedRequest(normalize=1, chunk=True)
    by_request = bert_mean.embed(texts, request=request)
    by_keywords = bert_mean.embed(texts, normalize=1, chunk=True)
    np.testing.assert_array_equal(np.asarray(by_request), np.asarray(by_keywords))
    assert by_request.request == by_keywords.request == request
    with pytest.raises(InvalidInputError, match="not both"):
        bert_mean.embed(texts, request=request, normalize=1)


def test_the_api_records_the_request_and_keys_the_cache_with_it(bert_mean: LocalModel) -> None:
    store = EmbeddingCache(None)
    result = embed_nb.embed(["a dog ran"], model=bert_mean, cache=store, truncate=True)
    assert result.request == EmbedRequest(normalize=2, truncate=True)
    key = cache_key(
        bert_mean.fingerprint, "mean", result.request, "a dog ran", max_tokens=bert_mean.max_tokens
    )
    assert store.get_many([key])  # the job stored it under the request's key


def test_one_constructor_builds_pooled_and_per_token_results() -> None:
    class Model:
        name, fingerprint = "m", "fp"

        def __init__(self, pooling: str) -> None:
            self.pooling = pooling

    rows = [np.ones(4, dtype=np.float64), np.zeros(4)]
    pooled = Embeddings.from_parts(
        model=Model("mean"),
        request=EmbedRequest(truncate=True),
        texts=["a", "b"],
        rows=rows,
        token_counts=[1, 2],
    )
    assert pooled.vectors is not None and pooled.vectors.dtype == np.float32
    assert pooled.shape == (2, 4) and pooled.truncate and pooled.normalize == 2
    single = Embeddings.from_parts(
        model=Model("mean"),
        request=EmbedRequest(),
        texts=["a"],
        rows=np.ones((1, 4), dtype=np.float32),
        token_counts=[1],
        single=True,
    )
    assert single.shape == (4,)
    tokens = Embeddings.from_parts(
        model=Model("none"),
        request=EmbedRequest(normalize=2),
        texts=["a"],
        rows=[np.ones((3, 4))],
        token_counts=[3],
    )
    assert tokens.vectors is None and tokens.normalize == -1
    assert tokens.token_vectors is not None and tokens.token_vectors[0].dtype == np.float32


def test_exact_and_fast_vectors_never_stand_in_for_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The precision enters the key through the fingerprint: exact keeps the "-f32" suffix its
    keys always had (existing caches stay valid), fast gets "-bf16"."""
    import tiny_models

    from embed_nb.engine import native
    from embed_nb.engine.fingerprint import file_fingerprint

    if not native.cpu_has_bf16():
        pytest.skip("fast is exact on a CPU without bf16 dot products")
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    f16 = tiny_models.write_tiny_bert(tmp_path / "bert-f16.gguf", outtype="f16")
    store = EmbeddingCache(None)
    texts = ["a dog ran", "the cat sat"]
    with LocalModel(f16) as exact, LocalModel(f16, precision="fast") as fast:
        assert exact.fingerprint == file_fingerprint(f16) + "-f32"
        assert fast.fingerprint == file_fingerprint(f16) + "-bf16"
        first = embed_nb.embed(texts, model=exact, cache=store)
        assert embed_nb.embed(texts, model=fast, cache=store).extra["cache_hits"] == 0
        assert embed_nb.embed(texts, model=exact, cache=store).extra["cache_hits"] == 2
        assert embed_nb.embed(texts, model=fast, cache=store).extra["cache_hits"] == 2
        fresh = embed_nb.embed(texts, model=exact, cache=False)
        np.testing.assert_array_equal(np.asarray(first), np.asarray(fresh))
