"""Query and document prompts: presets by family, per-call prompts, search, cache keys, front
ends (embed_nb.prompts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import embed_nb
from embed_nb import api
from embed_nb.cache import EmbeddingCache
from embed_nb.cli import main
from embed_nb.engine import LocalModel
from embed_nb.errors import InvalidInputError
from embed_nb.prompts import Prompts, family_of, prompt_text, resolve_prompts
from tests.magic_shell import DOCS, configured, magic_shell, run
from tests.tiny_models import write_crafted, write_tiny_llama

QWEN_QUERY = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
)


def named(source: Path, path: Path, name: str) -> Path:
    """A copy of a tiny GGUF whose ``general.name`` is ``name``."""
    return write_crafted(source, path, {"general.name": (name, "string")})


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModel]:
    """A tiny llama decoder named like Qwen3-Embedding, whose tokenizer adds no EOS."""
    folder = tmp_path_factory.mktemp("qwen3")
    base = write_tiny_llama(folder / "base.gguf")
    model = LocalModel(named(base, folder / "tiny.gguf", "Qwen3-Embedding-0.6B"))
    yield model
    model.close()


@pytest.fixture(scope="module")
def nomic(tmp_path_factory: pytest.TempPathFactory, bert_mean_path: Path) -> Iterator[LocalModel]:
    folder = tmp_path_factory.mktemp("nomic")
    model = LocalModel(named(bert_mean_path, folder / "tiny.gguf", "nomic-embed-text-v1.5"))
    yield model
    model.close()


class Recorder:
    """Wraps a model's ``embed`` to keep the texts the model receives."""

    def __init__(self, model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        inner = model.embed

        def embed(texts: Any, **options: Any) -> Any:
            self.seen.extend([texts] if isinstance(texts, str) else texts)
            return inner(texts, **options)

        monkeypatch.setattr(model, "embed", embed)


# --- families -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "architecture", "family", "query", "document"),
    [
        ("Qwen3-Embedding-8B", "qwen3", "qwen3-embedding", QWEN_QUERY, ""),
        (
            "embeddinggemma-300m",
            "gemma-embedding",
            "embeddinggemma",
            "task: search result | query: ",
            "title: none | text: ",
        ),
        ("anything", "nomic-bert", "nomic-embed", "search_query: ", "search_document: "),
        ("multilingual-e5-small", "bert", "e5", "query: ", "passage: "),
        (
            "bge-small-en-v1.5",
            "bert",
            "bge",
            "Represent this sentence for searching relevant passages: ",
            "",
        ),
        ("bge-m3", "xlm-roberta", "bge-m3", "", ""),
    ],
)
def test_family_from_names(
    name: str, architecture: str, family: str, query: str, document: str
) -> None:
    model = SimpleNamespace(gguf_names=(name,), architecture=architecture, name="x", pooling="mean")
    found = family_of(model)
    assert found is not None
    assert (found.name, found.query_prompt, found.document_prompt) == (family, query, document)
    assert found.needs_prompt == bool(query or document)
    assert found.source.startswith("https://")


@pytest.mark.parametrize(
    "name", ["all-MiniLM-L6-v2", "qwen2.5-7b", "gte-base-en-v1.5", "phone5", "bge-reranker-v2-m3"]
)
def test_no_family(name: str) -> None:
    model = SimpleNamespace(gguf_names=(name,), architecture="bert", name=name, pooling="mean")
    assert family_of(model) is None


def test_a_reranker_has_no_family() -> None:
    model = SimpleNamespace(gguf_names=("Qwen3-Embedding",), name="q", pooling="rank")
    assert family_of(model) is None


def test_user_prompts_override_presets_and_empty_turns_off() -> None:
    family = family_of(SimpleNamespace(gguf_names=("e5-base-v2",), name="e5"))
    assert resolve_prompts(family) == Prompts("query: ", "passage: ", "", "e5")
    assert resolve_prompts(family, "q> ", "") == Prompts("q> ", "", "", "e5")
    with pytest.raises(InvalidInputError, match="query_prompt must be a str"):
        resolve_prompts(None, 3)  # type: ignore[arg-type]


# --- the real default model: no preset ----------------------------------------------------


def test_default_model_needs_no_prompt(default_model: LocalModel, tmp_path: Path) -> None:
    assert family_of(default_model) is None
    assert default_model.prompts == Prompts()
    assert "prompts" in repr(default_model.info) and default_model.info.prompts == "-"
    store = EmbeddingCache(tmp_path / "c.sqlite")
    plain = api.embed(["a cat"], model=default_model, cache=store)
    # "query" on a model without a query prompt is the bare text: the same row, no new one.
    as_query = api.embed(["a cat"], model=default_model, cache=store, prompt="query")
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(as_query))
    assert store.info().entries == 1


def test_prompt_is_in_the_cache_key(default_model: LocalModel, tmp_path: Path) -> None:
    store = EmbeddingCache(tmp_path / "c.sqlite")
    first = api.embed(["a cat"], model=default_model, cache=store, prompt="query: ")
    second = api.embed(["a cat"], model=default_model, cache=store, prompt="passage: ")
    assert store.info().entries == 2
    assert not np.allclose(np.asarray(first), np.asarray(second))
    again = api.embed(["a cat"], model=default_model, cache=store, prompt="query: ")
    assert again.extra["cache_hits"] == 1
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first))
    # The texts stay the user's; the vector is that of the prompted text.
    assert first.texts == ["a cat"] and first.request.prompt == "query: "
    direct = default_model.embed("query: a cat")
    np.testing.assert_allclose(np.asarray(first)[0], np.asarray(direct), atol=1e-6)
    # Token counts are what the model read, prompt included.
    assert first.token_counts == [len(default_model.tokenize("query: a cat"))]


def test_bad_prompts(default_model: LocalModel) -> None:
    with pytest.raises(InvalidInputError, match="prompt must be a str"):
        api.embed("x", model=default_model, cache=False, prompt=3)  # type: ignore[arg-type]
    for near_miss in ("Query", "documents", "passage"):
        with pytest.raises(InvalidInputError, match="looks like a keyword"):
            api.embed("x", model=default_model, cache=False, prompt=near_miss)
    with pytest.raises(InvalidInputError, match="document_prompt must be a str"):
        LocalModel(Path("unused.gguf"), document_prompt=["x"])  # type: ignore[arg-type]
    assert prompt_text(default_model, None) == ""


# --- presets on tiny GGUFs ----------------------------------------------------------------


def test_qwen3_preset_and_eos(qwen3: LocalModel) -> None:
    family = family_of(qwen3)
    assert family is not None and family.name == "qwen3-embedding" and family.needs_eos
    assert qwen3.prompts.query == QWEN_QUERY and qwen3.prompts.document == ""
    assert qwen3.prompts.suffix == "</s>"  # the tokenizer adds no EOS: its text is appended
    assert "qwen3-embedding preset" in qwen3.info.prompts
    # The engine parses special tokens: the appended text becomes the EOS token itself.
    tokens = qwen3.tokenize("hello</s>")
    eos = qwen3.info.vocab_size - 1  # write_tiny_llama's </s> is the last token
    assert tokens == [*qwen3.tokenize("hello"), eos]
    result = api.embed(["hello"], model=qwen3, cache=False, prompt="query")
    expected = qwen3.embed(QWEN_QUERY + "hello</s>")
    np.testing.assert_allclose(np.asarray(result)[0], np.asarray(expected), atol=1e-6)
    assert result.texts == ["hello"]


def test_search_applies_both_prompts(nomic: LocalModel, monkeypatch: pytest.MonkeyPatch) -> None:
    assert nomic.prompts == Prompts("search_query: ", "search_document: ", "", "nomic-embed")
    recorder = Recorder(nomic, monkeypatch)
    result = api.search("cat", DOCS, 2, model=nomic, cache=False)
    documents = sorted([f"search_document: {d}" for d in DOCS], key=len)
    assert recorder.seen == [*documents, "search_query: cat"]
    assert [hit.document in DOCS for hit in result.hits] == [True, True]
    # An Embeddings corpus made with the document prompt: the query still gets its own.
    recorder.seen.clear()
    corpus = api.embed(DOCS, model=nomic, cache=False, prompt="document")
    api.search("cat", corpus, 1, model=nomic, cache=False)
    assert recorder.seen[-1] == "search_query: cat"
    context = api.retrieve("cat", DOCS, 1, model=nomic, cache=False)
    assert isinstance(context, str) and recorder.seen[-1] == "search_query: cat"


def test_load_model_prompts_override(bert_mean_path: Path, tmp_path: Path) -> None:
    path = named(bert_mean_path, tmp_path / "tiny.gguf", "e5-small-v2")
    with embed_nb.load_model(path, query_prompt="Q: ", document_prompt="") as model:
        assert model.prompts == Prompts("Q: ", "", "", "e5")
        assert "'Q: '" in model.info.prompts


# --- magics and CLI -----------------------------------------------------------------------


def test_magics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bert_mean_path: Path, capsys: Any
) -> None:
    ip = magic_shell()
    path = named(bert_mean_path, tmp_path / "nomic.gguf", "nomic-embed-text-v1")
    with configured(ip, tmp_path, monkeypatch, bert_mean_path):
        run(ip, f"%embed_model load {path} --name nomic --query-prompt 'ask: '")
        run(ip, "%embed_model info")
        out = capsys.readouterr().out
        assert "'ask: '" in out and "'search_document: '" in out
        result = run(ip, "%embed --prompt document -o doc a cat")
        assert result.request.prompt == "search_document: " and result.texts == ["a cat"]
        literal = run(ip, "%embed --prompt 'hey: ' a cat")
        assert literal.request.prompt == "hey: "
        ip.run_cell("%embed --prompt Query a cat", store_history=False)
        assert "looks like a keyword" in capsys.readouterr().err
        searched = run(ip, "%embed_search cat docs -k 1")
        assert searched.hits[0].document in DOCS


def test_cli(capsys: Any, bert_mean_path: Path, tmp_path: Path) -> None:
    path = named(bert_mean_path, tmp_path / "e5.gguf", "e5-small-v2")
    argv = ["embed", "-m", str(path), "-p", "a cat", "--embd-output-format", "array"]
    assert main([*argv, "--embd-prompt", "query"]) == 0
    prompted = np.array(eval(capsys.readouterr().out))  # our own printed list
    assert main([*argv, "--query-prompt", "", "--embd-prompt", "query"]) == 0
    bare = np.array(eval(capsys.readouterr().out))
    with LocalModel(path) as model:
        np.testing.assert_allclose(prompted[0], np.asarray(model.embed("query: a cat")), atol=1e-6)
        np.testing.assert_allclose(bare[0], np.asarray(model.embed("a cat")), atol=1e-6)
    assert main(["info", "-m", str(path)]) == 0
    assert "'passage: '" in capsys.readouterr().out
