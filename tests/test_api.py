"""embed_nb.api on tiny GGUF models: embed via the cache, rerank, similarity, search, project."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import embed_nb
from embed_nb import api, registry
from embed_nb.cache import EmbeddingCache
from embed_nb.engine import LocalModel
from embed_nb.errors import InputTooLongError, InvalidInputError, NotARerankerError
from embed_nb.registry import ModelRegistry

DOCS = [
    "the cat sits on the mat",
    "a dog eats food",
    "python code and data science",
    "the moon and the stars in the sky",
    "students read books at school",
]


class Spy:
    """A model that is not a LocalModel: it forwards to one and counts embed calls, the way a
    remote backend would look to the API (duck typing only)."""

    kind = "spy"

    def __init__(self, model: LocalModel) -> None:
        self._model = model
        self.calls: list[list[str]] = []

    def embed(self, texts: Any, **options: Any) -> embed_nb.Embeddings:
        self.calls.append(list(texts))
        return self._model.embed(texts, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    @property
    def embedded(self) -> int:
        return sum(len(call) for call in self.calls)


@pytest.fixture
def fresh_registry(
    monkeypatch: pytest.MonkeyPatch, bert_mean_path: Path
) -> Iterator[ModelRegistry]:
    reg = ModelRegistry(default_source=str(bert_mean_path), notify=lambda message: None)
    monkeypatch.setattr(registry, "REGISTRY", reg)
    yield reg
    reg.unload_all()


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingCache:
    return EmbeddingCache(tmp_path / "cache.sqlite")


@pytest.fixture
def spy(bert_mean: LocalModel) -> Spy:
    return Spy(bert_mean)


# --- embed ---------------------------------------------------------------------------------


def test_embed_matches_the_engine_and_keeps_provenance(
    bert_mean: LocalModel, store: EmbeddingCache
) -> None:
    one = api.embed("the cat", model=bert_mean, cache=store)
    many = api.embed(DOCS, model=bert_mean, cache=store)
    assert np.asarray(one).shape == (bert_mean.n_embd,)
    assert np.asarray(many).shape == (len(DOCS), bert_mean.n_embd)
    np.testing.assert_allclose(np.asarray(many), np.asarray(bert_mean.embed(DOCS)), atol=1e-6)
    expected = bert_mean.embed(DOCS)
    assert many.token_counts == expected.token_counts and many.texts == DOCS
    assert (many.model, many.fingerprint, many.pooling, many.normalize) == (
        bert_mean.name,
        bert_mean.fingerprint,
        "mean",
        2,
    )
    assert one.single and not many.single


def test_a_rerun_is_served_from_the_cache_without_the_model(
    spy: Spy, store: EmbeddingCache, tmp_path: Path
) -> None:
    cold = api.embed(DOCS, model=spy, cache=store)  # type: ignore[arg-type]
    assert spy.embedded == len(DOCS) and cold.extra["cache_hits"] == 0
    warm = api.embed(DOCS, model=spy, cache=store)  # type: ignore[arg-type]
    assert spy.embedded == len(DOCS) and warm.extra["cache_hits"] == len(DOCS)
    np.testing.assert_array_equal(np.asarray(warm), np.asarray(cold))
    assert warm.token_counts == cold.token_counts
    # A new kernel: a new cache object on the same file.
    again = api.embed(DOCS, model=spy, cache=EmbeddingCache(tmp_path / "cache.sqlite"))  # type: ignore[arg-type]
    assert spy.embedded == len(DOCS) and again.extra["cache_hits"] == len(DOCS)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(cold))


def test_only_missing_and_distinct_texts_reach_the_model(spy: Spy, store: EmbeddingCache) -> None:
    api.embed(DOCS[:2], model=spy, cache=store)  # type: ignore[arg-type]
    spy.calls.clear()
    result = api.embed([*DOCS, DOCS[3], DOCS[0]], model=spy, cache=store)  # type: ignore[arg-type]
    assert sorted(t for call in spy.calls for t in call) == sorted(DOCS[2:])
    vectors = np.asarray(result)
    np.testing.assert_array_equal(vectors[5], vectors[3])
    np.testing.assert_array_equal(vectors[6], vectors[0])


def test_options_are_part_of_the_key(spy: Spy, store: EmbeddingCache) -> None:
    l2 = api.embed(DOCS, model=spy, cache=store)  # type: ignore[arg-type]
    l1 = api.embed(DOCS, model=spy, cache=store, normalize=1)  # type: ignore[arg-type]
    raw = api.embed(DOCS, model=spy, cache=store, normalize=-1)  # type: ignore[arg-type]
    assert spy.embedded == 3 * len(DOCS)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(l2), axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.abs(np.asarray(l1)).sum(axis=1), 1, atol=1e-5)
    assert l1.normalize == 1 and raw.normalize == -1
    api.embed(DOCS, model=spy, cache=store, truncate=True)  # type: ignore[arg-type]
    api.embed(DOCS, model=spy, cache=store, chunk=True)  # type: ignore[arg-type]
    assert spy.embedded == 5 * len(DOCS)


def test_without_the_cache_nothing_is_stored(spy: Spy, store: EmbeddingCache) -> None:
    api.embed(DOCS, model=spy, cache=False)  # type: ignore[arg-type]
    api.embed(DOCS, model=spy, cache=False)  # type: ignore[arg-type]
    assert spy.embedded == 2 * len(DOCS)
    assert "cache_hits" not in api.embed(DOCS, model=spy, cache=False).extra  # type: ignore[arg-type]


def test_long_texts_fail_with_the_users_index_or_are_truncated_or_chunked(
    bert_mean: LocalModel, store: EmbeddingCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "JOB_PART", 2)  # the long text lands in a later part
    long_text = " ".join(["cat"] * 300)
    texts = [*DOCS, long_text]
    with pytest.raises(InputTooLongError) as caught:
        api.embed(texts, model=bert_mean, cache=store)
    assert caught.value.index == len(DOCS)
    truncated = api.embed(texts, model=bert_mean, cache=store, truncate=True)
    chunked = api.embed(texts, model=bert_mean, cache=store, chunk=True)
    assert truncated.token_counts[-1] == bert_mean.max_tokens
    assert chunked.token_counts[-1] > bert_mean.max_tokens
    assert truncated.truncate and chunked.chunk
    with pytest.raises(InvalidInputError, match="not both"):
        api.embed(texts, model=bert_mean, truncate=True, chunk=True)


def test_pooling_none_gives_per_token_vectors_through_the_cache(
    bert_none_path: Path, store: EmbeddingCache
) -> None:
    with LocalModel(bert_none_path) as model:
        cold = api.embed(DOCS[:3], model=model, cache=store)
        warm = api.embed(DOCS[:3], model=model, cache=store)
        direct = model.embed(DOCS[:3])
    assert cold.vectors is None and warm.extra["cache_hits"] == 3
    assert warm.token_vectors is not None and direct.token_vectors is not None
    for got, expected in zip(warm.token_vectors, direct.token_vectors, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert warm.normalize == -1 and warm.pooling == "none"


def test_tokens_loads_a_pooling_none_variant(
    fresh_registry: ModelRegistry, bert_mean_path: Path, store: EmbeddingCache
) -> None:
    fresh_registry.load(bert_mean_path, name="m")
    result = api.embed(["the cat", "a dog"], tokens=True, cache=store)
    assert result.pooling == "none" and result.token_vectors is not None
    assert [len(t) for t in result.token_vectors] == result.token_counts
    assert fresh_registry.current == "m"


def test_pandas_inputs_keep_their_index(bert_mean: LocalModel, store: EmbeddingCache) -> None:
    series = pd.Series(DOCS, index=[f"d{i}" for i in range(len(DOCS))])
    result = api.embed(series, model=bert_mean, cache=store)
    frame = result.to_pandas()
    assert list(frame.index) == list(series.index) and list(frame["text"]) == DOCS
    df = pd.DataFrame({"text": DOCS, "n": range(len(DOCS))})
    from_column = api.embed(df, model=bert_mean, cache=store, column="text")
    np.testing.assert_array_equal(np.asarray(from_column), np.asarray(result))
    one_column = api.embed(df[["text"]], model=bert_mean, cache=store)
    assert len(one_column) == len(DOCS)
    tuple_input = api.embed(tuple(DOCS), model=bert_mean, cache=store)
    array_input = api.embed(np.array(DOCS), model=bert_mean, cache=store)
    assert tuple_input.texts == array_input.texts == DOCS


@pytest.mark.parametrize(
    ("texts", "column", "message"),
    [
        (42, None, "not int"),
        (b"bytes", None, "decode text bytes first"),
        ([], None, "is empty"),
        (["ok", 3], None, r"texts\[1\] is int"),
        (pd.Series(["ok", None]), None, "missing value"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), None, "say which holds the text"),
        (pd.DataFrame({"a": ["x"]}), "nope", "no column 'nope'"),
        (["x"], "text", "needs a DataFrame"),
    ],
)
def test_bad_inputs_are_clear_errors(
    bert_mean: LocalModel, texts: object, column: str | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        api.embed(texts, model=bert_mean, cache=False, column=column)


def test_the_current_model_is_used_and_the_default_loads_when_none_is(
    monkeypatch: pytest.MonkeyPatch, bert_mean_path: Path, store: EmbeddingCache
) -> None:
    said: list[str] = []
    reg = ModelRegistry(default_source=str(bert_mean_path), notify=said.append)
    monkeypatch.setattr(registry, "REGISTRY", reg)
    try:
        first = embed_nb.embed("hello", cache=store)
        second = embed_nb.embed("hello again", cache=store)
        assert first.model == second.model == "bert-mean"
        assert len(said) == 1
    finally:
        reg.unload_all()


def test_an_interrupt_keeps_finished_parts_cached_and_the_model_usable(
    bert_mean: LocalModel, store: EmbeddingCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "JOB_PART", 8)
    texts = [f"the cat number {i} sat on the mat" for i in range(40)]
    reported: list[int] = []

    def interrupt_in_the_third_part(done: int, total: int) -> None:
        reported.append(done)
        if done > 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        api.embed(texts, model=bert_mean, cache=store, progress=interrupt_in_the_third_part)
    assert "interrupted after 16 of 40" in " ".join(caught.value.__notes__)
    assert reported == sorted(reported) and reported[-1] > 16
    assert store.info().entries == 16
    # The model still works, and the re-run continues from the cache. (Vectors differ from
    # one big call in the last digits: decodes are packed differently.)
    resumed = api.embed(texts, model=bert_mean, cache=store)
    assert resumed.extra["cache_hits"] == 16
    np.testing.assert_allclose(np.asarray(resumed), np.asarray(bert_mean.embed(texts)), atol=1e-3)


def test_progress_bar_above_the_threshold_only(
    bert_mean: LocalModel, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [f"text number {i}" for i in range(12)]
    api.embed(texts, model=bert_mean, cache=False, progress=100)
    assert "embedding" not in capsys.readouterr().err
    api.embed(texts, model=bert_mean, cache=False, progress=10)
    err = capsys.readouterr().err
    assert "embedding" in err and "12/12" in err
    seen: list[tuple[int, int]] = []
    api.embed(texts, model=bert_mean, cache=False, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (12, 12)
    with pytest.raises(InvalidInputError, match="progress must be"):
        api.embed(texts, model=bert_mean, cache=False, progress="yes")  # type: ignore[arg-type]


# --- rerank --------------------------------------------------------------------------------


def test_rerank_with_a_reranker_uses_rank_scores(reranker_path: Path) -> None:
    with LocalModel(reranker_path) as model:
        result = api.rerank("a pet", DOCS, model=model, top_n=3)
        direct = model.rerank("a pet", DOCS, 3)
    assert result.method == "rank" and len(result) == 3
    assert [h.index for h in result] == [h.index for h in direct]
    np.testing.assert_allclose(result.scores, direct.scores, atol=1e-6)


def test_rerank_with_an_embedding_model_ranks_by_cosine_and_says_so(
    bert_mean: LocalModel, store: EmbeddingCache
) -> None:
    result = api.rerank("a pet", pd.Series(DOCS), model=bert_mean, cache=store)
    assert result.method == "cosine"
    vectors = np.asarray(bert_mean.embed(["a pet", *DOCS]))
    expected = vectors[1:] @ vectors[0]
    assert [h.index for h in result] == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose(result.scores, np.sort(expected)[::-1], atol=1e-5)
    assert "not a reranker" in result._repr_html_()
    assert len(api.rerank("a pet", DOCS, model=bert_mean, top_n=2, cache=store)) == 2


def test_rerank_errors(bert_mean: LocalModel, bert_none_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="query must be a str"):
        api.rerank(["q"], DOCS, model=bert_mean)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="top_n"):
        api.rerank("q", DOCS, model=bert_mean, top_n=-1)
    with LocalModel(bert_none_path) as model, pytest.raises(NotARerankerError, match="'none'"):
        api.rerank("q", DOCS, model=model)


# --- similarity, search, retrieve, project -------------------------------------------------


def test_similarity_of_texts_embeddings_and_arrays(
    bert_mean: LocalModel, store: EmbeddingCache
) -> None:
    matrix = api.similarity(DOCS, model=bert_mean, cache=store)
    values = np.asarray(matrix)
    assert values.shape == (5, 5) and matrix.row_labels == DOCS
    np.testing.assert_allclose(np.diag(values), 1, atol=1e-5)
    np.testing.assert_allclose(values, values.T, atol=1e-6)
    e = api.embed(DOCS, model=bert_mean, cache=store)
    cross = api.similarity(e[:2] if False else api.embed(DOCS[:2], model=bert_mean), e)
    assert np.asarray(cross).shape == (2, 5)
    np.testing.assert_allclose(np.asarray(cross), values[:2], atol=1e-5)
    raw = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(
        np.asarray(api.similarity(raw)),
        [[1, 0, 0.7071068], [0, 1, 0.7071068], [0.7071068, 0.7071068, 1]],
        atol=1e-6,
    )
    with pytest.raises(InvalidInputError, match="same model"):
        api.similarity(raw, e)


def test_search_embeds_the_corpus_once(spy: Spy, store: EmbeddingCache) -> None:
    result = api.search("a pet on the mat", DOCS, k=3, model=spy, cache=store)  # type: ignore[arg-type]
    assert spy.embedded == len(DOCS) + 1
    again = api.search("a pet on the mat", DOCS, k=3, model=spy, cache=store)  # type: ignore[arg-type]
    other = api.search("the night sky", DOCS, k=3, model=spy, cache=store)  # type: ignore[arg-type]
    assert spy.embedded == len(DOCS) + 2  # only the new query
    assert [h.index for h in again] == [h.index for h in result]
    vectors = np.asarray(api.embed(DOCS, model=spy, cache=store))  # type: ignore[arg-type]
    query = np.asarray(api.embed("a pet on the mat", model=spy, cache=store))  # type: ignore[arg-type]
    expected = np.argsort(-(vectors @ query), kind="stable")[:3]
    assert result.indices == list(expected)
    assert [h.rank for h in result] == [1, 2, 3]
    assert result.scores[0] >= result.scores[1] >= result.scores[2]
    assert result.corpus_size == len(DOCS) and other.query == "the night sky"


def test_search_an_embeddings_corpus_and_a_labelled_series(
    fresh_registry: ModelRegistry, bert_mean_path: Path, store: EmbeddingCache
) -> None:
    model = fresh_registry.load(bert_mean_path, name="m")
    corpus = api.embed(DOCS, cache=store)
    by_vectors = api.search("a dog", corpus, k=2, cache=store)
    by_texts = api.search("a dog", DOCS, k=2, cache=store)
    assert by_vectors.indices == by_texts.indices
    series = pd.Series(DOCS, index=list("abcde"))
    labelled = api.search("a dog", series, k=2, model=model, cache=store)
    assert list(labelled.to_pandas()["index"]) == [list("abcde")[i] for i in by_texts.indices]
    with pytest.raises(InvalidInputError, match="positive integer"):
        api.search("a dog", DOCS, k=0, model=model)


def test_search_refuses_a_corpus_from_another_model(
    bert_mean: LocalModel, bert_cls_path: Path, store: EmbeddingCache
) -> None:
    corpus = api.embed(DOCS, model=bert_mean, cache=store)
    with LocalModel(bert_cls_path) as other, pytest.raises(InvalidInputError, match="corpus"):
        api.search("a dog", corpus, model=other)


def test_retrieve_builds_a_prompt_context(bert_mean: LocalModel, store: EmbeddingCache) -> None:
    hits = api.search("a dog", DOCS, k=2, model=bert_mean, cache=store)
    context = api.retrieve("a dog", DOCS, k=2, model=bert_mean, cache=store)
    assert isinstance(context, str)
    assert context == f"[1] {hits[0].document}\n\n[2] {hits[1].document}"
    custom = api.retrieve(
        "a dog", DOCS, 1, model=bert_mean, cache=store, template="{index}: {document}"
    )
    assert custom == f"{hits[0].index}: {hits[0].document}"


def test_project_pca(bert_mean: LocalModel, store: EmbeddingCache) -> None:
    e = api.embed(DOCS, model=bert_mean, cache=store)
    projection = api.project(e)
    coords = np.asarray(projection)
    assert coords.shape == (5, 2) and projection.labels == DOCS and projection.method == "pca"
    centred = np.asarray(e, dtype=np.float64) - np.asarray(e, dtype=np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(reference), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(api.project(e)), coords)  # deterministic
    assert projection.explained_variance is not None
    assert 0 < float(projection.explained_variance.sum()) <= 1.0001
    labelled = api.project(e, labels=pd.Series(list("abcde")))
    assert labelled.labels == list("abcde")
    from_texts = api.project(DOCS, model=bert_mean)
    np.testing.assert_allclose(np.asarray(from_texts), coords, atol=1e-4)


def test_project_errors(bert_mean: LocalModel) -> None:
    e = api.embed(DOCS, model=bert_mean, cache=False)
    with pytest.raises(InvalidInputError, match="labels for"):
        api.project(e, labels=["a"])
    with pytest.raises(InvalidInputError, match="unknown projection"):
        api.project(e, method="tsne")
    with pytest.raises(InvalidInputError, match="at least 2"):
        api.project(np.ones((1, 4)))
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(InvalidInputError, match="umap-learn"):
            api.project(e, method="umap")


def test_the_package_exports_the_api() -> None:
    for name in ("embed", "rerank", "similarity", "search", "retrieve", "project", "load_model"):
        assert callable(getattr(embed_nb, name))
    assert embed_nb.SearchResult.__name__ == "SearchResult"
    with pytest.raises(AttributeError):
        embed_nb.nothing_here  # noqa: B018


# --- the real default model ----------------------------------------------------------------


@pytest.mark.integration
def test_default_model_end_to_end(default_model: LocalModel, store: EmbeddingCache) -> None:
    texts = ["The cat sits on the mat", "A feline rests on the rug", "Python programming language"]
    matrix = np.asarray(api.similarity(texts, model=default_model, cache=store))
    assert matrix[0, 1] > matrix[0, 2] + 0.2
    hits = api.search("a kitten on a carpet", texts, k=2, model=default_model, cache=store)
    assert set(hits.indices) == {0, 1}
    ranked = api.rerank("programming", texts, model=default_model, cache=store)
    assert ranked.method == "cosine" and ranked[0].index == 2
    warm = api.embed(texts, model=default_model, cache=store)
    assert warm.extra["cache_hits"] == 3 and warm.shape == (3, 384)


# --- hostile inputs (issue 9): wrong results refused, one clear error each ------------------


@pytest.fixture(scope="module")
def rank_model(reranker_path: Path) -> Iterator[LocalModel]:
    with LocalModel(reranker_path) as model:
        yield model


def test_a_reranker_is_refused_where_vectors_are_compared(
    rank_model: LocalModel, store: EmbeddingCache
) -> None:
    # Its one RANK score per text would make every cosine +-1: all "similar".
    for call in (
        lambda: api.similarity(DOCS, model=rank_model, cache=store),
        lambda: api.search("a dog", DOCS, model=rank_model, cache=store),
        lambda: api.project(DOCS, model=rank_model, cache=store),
    ):
        with pytest.raises(InvalidInputError, match="reranker"):
            call()
    scores = api.embed(DOCS, model=rank_model, cache=store)  # embed itself gives the scores
    assert scores.pooling == "rank"
    for call in (
        lambda: api.similarity(scores),
        lambda: api.project(scores),
        lambda: api.search("a dog", scores, model=rank_model),
    ):
        with pytest.raises(InvalidInputError, match="reranker"):
            call()


def test_search_refuses_a_corpus_pooled_another_way(
    bert_mean: LocalModel, bert_mean_path: Path, store: EmbeddingCache
) -> None:
    # The same file (same fingerprint) loaded with CLS pooling: its vectors are not comparable.
    with LocalModel(bert_mean_path, pooling="cls") as cls_model:
        corpus = api.embed(DOCS, model=cls_model, cache=store)
        assert corpus.fingerprint == bert_mean.fingerprint
        with pytest.raises(InvalidInputError, match="pooled 'cls'"):
            api.search("a dog", corpus, model=bert_mean, cache=store)
        found = api.search("a dog", corpus, model=cls_model, cache=store)
        assert found.model == cls_model.name


def test_search_embeds_the_query_the_way_the_corpus_was(
    bert_mean: LocalModel, store: EmbeddingCache
) -> None:
    long_query = " ".join(["cat"] * 300)  # longer than the tiny model's context
    plain = api.embed(DOCS, model=bert_mean, cache=store)
    with pytest.raises(InputTooLongError):
        api.search(long_query, plain, model=bert_mean, cache=store)
    truncated = api.embed(DOCS, model=bert_mean, cache=store, truncate=True, normalize=1)
    hits = api.search(long_query, truncated, k=5, model=bert_mean, cache=store)
    query = np.asarray(
        api.embed(long_query, model=bert_mean, cache=store, truncate=True), dtype=np.float64
    )
    vectors = np.asarray(truncated, dtype=np.float64)
    cosines = vectors @ query / np.linalg.norm(vectors, axis=1) / np.linalg.norm(query)
    np.testing.assert_allclose(
        sorted(hits.scores, reverse=True), sorted(cosines, reverse=True), atol=1e-5
    )


def test_search_refuses_vectors_of_another_size(bert_mean: LocalModel) -> None:
    corpus = api.embed(DOCS, model=bert_mean, cache=False)
    odd = dataclasses.replace(corpus, vectors=np.ones((len(DOCS), 7), np.float32))
    with pytest.raises(InvalidInputError, match="dimensional"):
        api.search("a dog", odd, model=bert_mean, cache=False)


def test_a_huge_similarity_is_refused_before_any_work_with_its_size() -> None:
    with pytest.raises(InvalidInputError, match=r"40,000 x 40,000 .* 6\.0 GiB"):
        api.similarity(np.ones((40_000, 4), np.float32))
    texts = [f"text {i}" for i in range(20_000)]
    # Refused before the texts are embedded: the model named does not even exist.
    with pytest.raises(InvalidInputError, match="similarity matrix needs"):
        api.similarity(texts, texts, model="no-such-model")
    small = np.eye(3, 4, dtype=np.float32)
    with pytest.raises(InvalidInputError, match="max_bytes"):
        api.similarity(small, max_bytes=8)
    assert api.similarity(small, max_bytes=36).shape == (3, 3)
    with pytest.raises(InvalidInputError, match="max_bytes"):
        api.similarity(small, max_bytes=-1)


def test_similarity_in_blocks_matches_one_product(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(50, 8))
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(api.similarity(a, b)), unit_a @ unit_b.T, atol=1e-6)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "NaN or infinite"),
        (np.array([[1e300, 1.0], [0.0, 1.0]]), "too large"),
        (np.array([[1.0], [2.0]]), "1-dimensional"),
        (np.zeros((0, 4)), "no vectors"),
        (np.ones((2, 2, 2)), "3-D"),
        (np.array([[True, False], [False, True]]), "numbers"),
        (np.array([[1j, 1], [1, 1j]]), "numbers"),
        (np.array([["a", "b"], ["c", "d"]]), "1-D"),
        (np.array([[1, "a"], [2, "b"]], dtype=object), "1-D"),
        (np.array([1.0, "a", None], dtype=object), r"\[0\] is float"),
        ({"a": 1}, "dict"),
        (None, "NoneType"),
        (42, "int"),
    ],
)
def test_bad_vectors_are_one_clear_error(data: object, match: str) -> None:
    for call in (lambda: api.similarity(data), lambda: api.project(data)):
        with pytest.raises(InvalidInputError, match=match):
            call()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": None}, "unknown projection method None"),
        ({"method": 3}, "unknown projection method"),
        ({"n_components": 2.5}, "n_components must be an integer"),
        ({"n_components": True}, "n_components must be an integer"),
        ({"n_components": 0}, "from 2 to"),
        ({"n_components": 1}, "from 2 to"),
        ({"n_components": 5}, "from 2 to the vectors' dimension 4"),
        ({"n_components": 10**30}, "from 2 to"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": 2**40}, "random_state"),
        ({"random_state": "seed"}, "random_state"),
        ({"labels": 5}, "labels must be a list"),
        ({"labels": "abc"}, "labels must be a list"),
        ({"labels": {"a": 1}}, "labels must be a list"),
        ({"labels": [1, 2]}, "2 labels for 3 points"),
        ({"labels": np.ones((3, 2))}, "1-D"),
    ],
)
def test_project_options_are_checked(options: dict[str, Any], match: str) -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4) ** 0.5
    with pytest.raises(InvalidInputError, match=match):
        api.project(vectors, **options)


def test_project_accepts_what_it_documents() -> None:
    vectors = np.random.default_rng(1).normal(size=(6, 4))
    assert api.project(vectors, n_components=np.int64(4)).shape == (6, 4)
    assert api.project(vectors, method="PCA", labels=range(6)).labels == list("012345")
    assert api.project(vectors, labels=np.arange(6)).labels[5] == "5"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: api.embed("x", model=m, truncate="yes"), "truncate must be True or False"),
        (lambda m: api.embed("x", model=m, chunk=1), "chunk must be True or False"),
        (lambda m: api.embed("x", model=m, tokens=None), "tokens must be True or False"),
        (lambda m: api.embed("x", model=m, normalize=10**400), "normalize"),
        (lambda m: api.embed("x", model=m, normalize=2.0), "normalize"),
        (lambda m: api.embed("x", model=123), "model must be"),
        (lambda m: api.rerank("q", ["a"], model=m, truncate="no"), "truncate"),
        (lambda m: api.search("q", ["a"], k=2.5, model=m), "k must be"),
        (lambda m: api.retrieve("q", ["a"], model=m, template="{nope}"), "template"),
        (lambda m: api.retrieve("q", ["a"], model=m, template=None), "template"),
    ],
)
def test_api_options_are_checked(
    bert_mean: LocalModel, call: Callable[[LocalModel], object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(bert_mean)
