"""Search then rerank (``search(..., rerank=, top_n=)``), reranker instructions, and the
classifier-head check: API, ``%embed_search``/``%rerank`` and ``embed-nb search``/``rerank``.

The embedding model is the real all-MiniLM-L6-v2; the rerankers are the tiny random
cross-encoders of tests/tiny_models.py, whose scores mean nothing but are computed by the same
engine path a real reranker's are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tiny_models
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import configured, magic_shell, run

import embed_nb
from embed_nb import api
from embed_nb.cli import main
from embed_nb.convert import BertHParams, write_bert_gguf
from embed_nb.engine import LocalModel
from embed_nb.engine.embedding import rerank_pairs
from embed_nb.errors import InvalidInputError, ModelLoadError, NotARerankerError
from embed_nb.retrieval import RerankedSearchResult

CORPUS = [
    "the cat sat on the mat",
    "dogs are loyal pets that love to play",
    "paris is the capital of france",
    "python is a programming language for data science",
    "the sun is a star at the centre of our solar system",
    "a kitten sleeps on the warm bed",
    "berlin is the capital of germany",
    "the train to london leaves at night",
]
QUERY = "where does the cat sleep"

# Qwen3-Reranker's template as llama.cpp's converter writes it (conversion/qwen.py).
QWEN3_DEFAULT = "Given a web search query, retrieve relevant passages that answer the query"
QWEN3_TEMPLATE = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    f"<|im_start|>user\n<Instruct>: {QWEN3_DEFAULT}\n<Query>: {{query}}\n"
    "<Document>: {document}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
)


@pytest.fixture(scope="module")
def reranker(reranker_path: Path) -> Iterator[LocalModel]:
    model = LocalModel(reranker_path, name="tiny-rr")
    yield model
    model.close()


@pytest.fixture(scope="module")
def qwen_style_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_reranker(
        model_dir / "qwen-style-reranker.gguf", rerank_template=QWEN3_TEMPLATE, seed=3, n_ctx=512
    )


@pytest.fixture(scope="module")
def qwen_style(qwen_style_path: Path) -> Iterator[LocalModel]:
    model = LocalModel(qwen_style_path, name="qwen-style")
    yield model
    model.close()


class CountingReranker:
    """A reranker that records how many documents each rerank call receives."""

    def __init__(self, model: LocalModel) -> None:
        self._model = model
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def rerank(self, query: str, documents: Sequence[str], top_n: Any = None, **kw: Any) -> Any:
        self.calls.append(len(documents))
        return self._model.rerank(query, documents, top_n, **kw)


# --- search then rerank --------------------------------------------------------------------


def test_search_then_rerank_keeps_both_scores(default_model: Any, reranker: LocalModel) -> None:
    plain = api.search(QUERY, CORPUS, 5, model=default_model, cache=False)
    result = api.search(
        QUERY, CORPUS, 5, model=default_model, rerank=reranker, top_n=3, cache=False
    )
    assert isinstance(result, RerankedSearchResult)
    assert len(result) == 3 and result.candidates == 5 and result.corpus_size == len(CORPUS)
    assert result.reranker == "tiny-rr" and result.rerank_method == "rank"
    # The reranker's own scores over the 5 hits, best first, give the order and the scores.
    direct = reranker.rerank(QUERY, plain.documents)
    assert [h.document for h in result] == direct.documents[:3]
    np.testing.assert_allclose(result.scores, direct.scores[:3], rtol=1e-6)
    # Each hit keeps the cosine (and place) it was retrieved with.
    by_index = {h.index: h for h in plain}
    for hit in result:
        assert hit.cosine == pytest.approx(by_index[hit.index].score)
        assert hit.cosine_rank == by_index[hit.index].rank
        assert CORPUS[hit.index] == hit.document
    assert [h.rank for h in result] == [1, 2, 3]
    frame = result.to_pandas()
    assert list(frame.columns) == ["rank", "index", "score", "cosine", "cosine_rank", "document"]


def test_only_the_k_hits_are_reranked(default_model: Any, reranker: LocalModel) -> None:
    counting = CountingReranker(reranker)
    result = api.search(QUERY, CORPUS, 4, model=default_model, rerank=counting, cache=False)
    assert counting.calls == [4]
    assert len(result) == 4  # top_n None: all k, reordered
    plain = api.search(QUERY, CORPUS, 4, model=default_model, cache=False)
    assert sorted(h.index for h in result) == sorted(plain.indices)


def test_views_show_both_scores(default_model: Any, reranker: LocalModel) -> None:
    corpus = [*CORPUS, "<script>alert(1)</script> the cat sleeps"]
    result = api.search(
        QUERY, corpus, 6, model=default_model, rerank=reranker, top_n=6, cache=False
    )
    html = result._repr_html_()
    assert "rerank score" in html and "cosine" in html and "tiny-rr" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    hit = result[0]
    assert f"{hit.score:.4f}" in html and f"{hit.cosine:.4f}" in html
    lines: list[str] = []
    result._repr_pretty_(type("P", (), {"text": lambda _, t: lines.append(t)})(), False)
    text = "\n".join(lines)
    assert f"rerank {hit.score: .4f} · cosine {hit.cosine: .4f}" in text
    assert "reranked by tiny-rr" in text and "top 6 of 6 retrieved" in text
    assert "reranker='tiny-rr'" in repr(result)
    assert "[1]" in result.context()  # the RAG context works on reranked hits


def test_not_a_reranker_is_refused_unless_the_fallback_is_asked_for(default_model: Any) -> None:
    with pytest.raises(NotARerankerError, match="rerank_fallback='cosine'") as caught:
        api.search(QUERY, CORPUS, 4, model=default_model, rerank=default_model, cache=False)
    assert "\n" not in str(caught.value)
    result = api.search(
        QUERY,
        CORPUS,
        4,
        model=default_model,
        rerank=default_model,
        rerank_fallback="cosine",
        top_n=2,
        cache=False,
    )
    assert result.rerank_method == "cosine" and len(result) == 2
    # Same model both ways: the fallback gives the retrieval's order and (packed
    # differently into decodes) nearly its scores.
    assert [h.cosine_rank for h in result] == [1, 2]
    np.testing.assert_allclose(result.scores, result.cosines, atol=2e-4)  # other packing
    assert "cosine fallback" in result._repr_html_()


def test_bad_rerank_arguments(default_model: Any, reranker: LocalModel) -> None:
    def search(**kw: Any) -> Any:
        return api.search(QUERY, CORPUS, 3, model=default_model, cache=False, **kw)

    with pytest.raises(InvalidInputError, match="top_n applies only with rerank="):
        search(top_n=2)
    with pytest.raises(InvalidInputError, match="rerank_fallback applies only"):
        search(rerank_fallback="cosine")
    with pytest.raises(InvalidInputError, match="rerank_fallback must be None or 'cosine'"):
        search(rerank=reranker, rerank_fallback="bm25")
    with pytest.raises(InvalidInputError, match="top_n must be"):
        search(rerank=reranker, top_n=-1)
    with pytest.raises(InvalidInputError, match=r"registry|loaded"):
        search(rerank="no-such-reranker")


def test_rerank_by_registry_name(
    default_model: Any, reranker_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embed_nb import registry

    reg = registry.ModelRegistry()
    monkeypatch.setattr(registry, "REGISTRY", reg)
    try:
        reg.load(str(reranker_path), name="rr")
        result = api.search(QUERY, CORPUS, 3, model=default_model, rerank="rr", cache=False)
        assert result.reranker == "rr" and len(result) == 3
    finally:
        reg.unload_all()


# --- reranker instructions ------------------------------------------------------------------


def _fill(template: str, query: str, document: str) -> str:
    return template.replace("{query}", query).replace("{document}", document)


def test_instruction_is_substituted_where_the_template_holds_it(qwen_style: LocalModel) -> None:
    assert qwen_style.rerank_instruction == QWEN3_DEFAULT
    mine = "Find the passage about sleeping animals"
    docs = ["a kitten sleeps on the bed", "berlin is a city"]
    with qwen_style._lock:
        pairs = rerank_pairs(qwen_style, QUERY, docs, truncate=False, instruction=mine)
        default_pairs = rerank_pairs(qwen_style, QUERY, docs, truncate=False)
    expected_template = QWEN3_TEMPLATE.replace(QWEN3_DEFAULT, mine)
    for doc, tokens, default_tokens in zip(docs, pairs, default_pairs, strict=True):
        prompt = _fill(expected_template, QUERY, doc)
        expected = qwen_style.tokenize(prompt, add_special=False, parse_special=True)
        assert tokens.tolist() == expected
        default = _fill(QWEN3_TEMPLATE, QUERY, doc)
        assert default_tokens.tolist() == qwen_style.tokenize(
            default, add_special=False, parse_special=True
        )
    # Scores: the default instruction given explicitly changes nothing; another one does.
    plain = qwen_style.rerank(QUERY, docs)
    same = api.rerank(QUERY, docs, model=qwen_style, instruction=QWEN3_DEFAULT)
    other = api.rerank(QUERY, docs, model=qwen_style, instruction=mine)
    assert [h.score for h in same] == [h.score for h in plain]
    assert plain.total_tokens == same.total_tokens != other.total_tokens
    assert sorted(h.score for h in other) != sorted(h.score for h in plain)


def test_instruction_needs_a_place_in_the_template(
    reranker: LocalModel, templated_reranker_path: Path, default_model: Any
) -> None:
    assert reranker.rerank_instruction is None
    with pytest.raises(InvalidInputError, match="has no rerank template") as caught:
        api.rerank(QUERY, ["a"], model=reranker, instruction="Find cats")
    assert "\n" not in str(caught.value)
    with (
        LocalModel(templated_reranker_path, name="templated") as templated,
        pytest.raises(InvalidInputError, match="without an instruction to replace"),
    ):
        templated.rerank(QUERY, ["a"], instruction="Find cats")
    with pytest.raises(InvalidInputError, match="not a reranker, so it takes no instruction"):
        api.rerank(QUERY, ["a"], model=default_model, instruction="Find cats")


@pytest.mark.parametrize(
    ("instruction", "message"),
    [(3, "must be a str"), ("  ", "is empty"), ("about {query}", "must not contain")],
)
def test_bad_instructions(qwen_style: LocalModel, instruction: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        api.rerank(QUERY, ["a"], model=qwen_style, instruction=instruction)


# --- the classifier head --------------------------------------------------------------------


def _headless_reranker(path: Path) -> Path:
    vocab = tiny_models._bert_vocab()
    tensors = tiny_models._bert_tensors(
        np.random.default_rng(5), len(vocab.tokens), 128, classifier=False
    )
    hparams = BertHParams(2, tiny_models.TINY_N_EMBD, 64, 4, 128)
    return write_bert_gguf(path, hparams, tensors, vocab, pooling="rank", outtype="f32")


def test_a_reranker_without_a_classifier_head_fails_at_load(
    tmp_path: Path, bert_mean_path: Path
) -> None:
    path = _headless_reranker(tmp_path / "headless.gguf")
    with pytest.raises(ModelLoadError, match="has no classifier head") as caught:
        LocalModel(path)
    message = str(caught.value)
    assert "\n" not in message and "cls.output.weight" in message and "convert" in message
    # An embedding model asked to pool 'rank' has no head either; the advice differs.
    with pytest.raises(ModelLoadError, match="pooling='mean'"):
        LocalModel(bert_mean_path, pooling="rank")


# --- the magics -----------------------------------------------------------------------------


@pytest.fixture
def ip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model_path: Path
) -> Iterator[InteractiveShell]:
    with configured(magic_shell(), tmp_path, monkeypatch, default_model_path) as shell:
        shell.user_ns["corpus"] = list(CORPUS)
        yield shell


def test_magics(
    ip: InteractiveShell, default_model_path: Path, reranker_path: Path, qwen_style_path: Path
) -> None:
    run(ip, f"%embed_model load {default_model_path} --name minilm")
    run(ip, f"%embed_model load {reranker_path} --name rr")
    run(ip, f"%embed_model load {qwen_style_path} --name qw")
    search = f"%embed_search {QUERY!r} corpus -m minilm -k 5"
    result = run(ip, f"{search} --rerank rr --top-n 2 -o found")
    assert isinstance(result, RerankedSearchResult)
    assert len(result) == 2 and result.candidates == 5 and result.reranker == "rr"
    assert ip.user_ns["found"] is result
    mine = "Find the passage about sleeping animals"
    ranked = run(ip, f"%rerank {QUERY!r} corpus -m qw --instruction {mine!r}")
    direct = api.rerank(QUERY, CORPUS, model="qw", instruction=mine)
    assert ranked.scores.tolist() == direct.scores.tolist()
    # One clear line for an instruction the reranker has no place for.
    failed = ip.run_cell(f"%rerank {QUERY!r} corpus -m rr --instruction 'x'")
    assert "has no rerank template" in str(failed.error_in_exec)


# --- the CLI --------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_search_and_rerank_instruction(
    capsys: pytest.CaptureFixture[str],
    default_model_path: Path,
    reranker_path: Path,
    qwen_style_path: Path,
    tmp_path: Path,
) -> None:
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    base = ["search", QUERY, "-f", corpus_file, "-m", default_model_path, "-k", 5]
    status, out, err = _cli(capsys, *base, "--rerank", reranker_path, "--top-n", 2, "--json")
    assert status == 0, err
    records = json.loads(out)
    assert len(records) == 2 and {"score", "cosine", "cosine_rank"} <= set(records[0])
    with LocalModel(default_model_path) as model, LocalModel(reranker_path) as rr:
        expected = api.search(QUERY, CORPUS, 5, model=model, rerank=rr, top_n=2, cache=False)
    assert [r["index"] for r in records] == expected.indices
    status, out, _ = _cli(capsys, *base, "--rerank", reranker_path)
    assert status == 0 and "reranked by" in out and "cosine" in out
    status, _, err = _cli(capsys, *base, "--top-n", 2)
    assert status == 2 and "only with --rerank" in err
    status, _, err = _cli(capsys, *base, "--rerank", default_model_path)
    assert status == 1 and "not a reranker" in err and err.count("\n") == 1
    status, out, _ = _cli(
        capsys, *base, "--rerank", default_model_path, "--rerank-fallback", "cosine"
    )
    assert status == 0 and "cosine fallback" in out

    mine = "Find the passage about sleeping animals"
    argv = ["rerank", QUERY, *CORPUS[:3], "-m", qwen_style_path, "--instruction", mine]
    status, out, err = _cli(capsys, *argv)
    assert status == 0, err
    with LocalModel(qwen_style_path) as qw:
        direct = qw.rerank(QUERY, CORPUS[:3], instruction=mine)
    assert [r["relevance_score"] for r in json.loads(out)["results"]] == direct.scores.tolist()
    status, _, err = _cli(capsys, "rerank", QUERY, "a", "-m", reranker_path, "--instruction", "x")
    assert status == 2 and "takes no instruction" in err


def test_exported() -> None:
    assert embed_nb.RerankedSearchResult is RerankedSearchResult
