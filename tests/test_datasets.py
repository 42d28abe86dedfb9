"""Tests for embed_nb.datasets: offline corpora built from the standard library and this file."""

from __future__ import annotations

import builtins
import hashlib
import inspect
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from embed_nb import datasets
from embed_nb.datasets import DocEntry
from embed_nb.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
SEED_SENTENCES = [
    "The cat sits on the mat",
    "A feline rests on the rug",
    "Python programming language",
]


@pytest.fixture(scope="module")
def docs() -> list[DocEntry]:
    return datasets.stdlib_docs()


def test_stdlib_docs_size_and_fields(docs: list[DocEntry]) -> None:
    assert len(docs) >= 3000
    assert all(isinstance(e, DocEntry) for e in docs)
    assert all(e.text and e.text == e.text.strip() for e in docs)
    assert {e.kind for e in docs} == {"module", "class", "function", "method"}
    for e in docs:
        assert e.package == e.module.split(".")[0]
        assert e.name == e.module or e.name.startswith(e.module + ".")
    assert len({e.package for e in docs}) >= 50


def test_stdlib_docs_known_entries(docs: list[DocEntry]) -> None:
    by_name = {e.name: e for e in docs}
    decode = by_name["json.decoder.JSONDecoder.decode"]
    assert (decode.kind, decode.module, decode.package) == ("method", "json.decoder", "json")
    assert by_name["json"].kind == "module"
    assert by_name["json.decoder.JSONDecoder"].kind == "class"
    assert by_name["json.dumps"].kind == "function"
    # Defined inside `if`/`try` blocks at module level, still part of the API.
    assert "os.makedirs" in by_name


def test_stdlib_docs_text_is_cleaned(docs: list[DocEntry]) -> None:
    # In the source, the continuation lines of this docstring are indented by 8 spaces.
    decode = next(e for e in docs if e.name == "json.decoder.JSONDecoder.decode")
    lines = decode.text.splitlines()
    assert len(lines) > 1
    assert all(not line.startswith(" ") for line in lines[1:])
    # cleandoc is idempotent except on rare docstrings that start on the line after the
    # quotes with less indentation than the lines below.
    assert sum(inspect.cleandoc(e.text) != e.text for e in docs) < 10


def test_stdlib_docs_filters(docs: list[DocEntry]) -> None:
    for e in docs:
        assert not any(p.startswith("_") for p in e.name.split(".")), e.name
        # Test suites are folders; a public function called `test` (cgi.test) is fine.
        modules = e.module.split(".")
        assert not any(p in {"test", "tests", "idle_test"} for p in modules), e.name
        assert not modules[-1].startswith("test_"), e.name
        assert e.package not in {"site-packages", "pydoc_data", "turtledemo"}
    names = [e.name for e in docs]
    texts = [e.text for e in docs]
    assert len(set(names)) == len(names)
    assert len(set(texts)) == len(texts)


def test_stdlib_docs_is_deterministic_and_safe_to_mutate(docs: list[DocEntry]) -> None:
    again = datasets.stdlib_docs()
    assert again == docs
    assert again is not docs
    again.clear()
    assert datasets.stdlib_docs() == docs
    with pytest.raises(AttributeError):
        docs[0].text = "changed"  # type: ignore[misc]


def test_stdlib_docs_order_is_by_path_then_source() -> None:
    # json/__init__.py < json/decoder.py < json/encoder.py, and JSONDecoder is defined before
    # its methods.
    names = [e.name for e in datasets.stdlib_docs() if e.package == "json"]
    assert names.index("json") < names.index("json.decoder") < names.index("json.encoder")
    assert names.index("json.decoder.JSONDecoder") < names.index("json.decoder.JSONDecoder.decode")


def test_stdlib_docs_same_in_a_fresh_process_and_imports_nothing(docs: list[DocEntry]) -> None:
    # A new interpreter parses from scratch: same entries, and none of the stdlib modules
    # with import side effects (antigravity opens a browser, `this` prints) gets imported.
    script = (
        "import hashlib, sys\n"
        "from embed_nb import datasets\n"
        "before = set(sys.modules)\n"
        "entries = datasets.stdlib_docs()\n"
        "digest = hashlib.sha256(repr(entries).encode()).hexdigest()\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(digest, ' '.join(new))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out[0] == hashlib.sha256(repr(docs).encode()).hexdigest()
    newly_imported = set(out[1:])
    for name in ("antigravity", "this", "tkinter", "idlelib", "turtle", "json", "email"):
        assert name not in newly_imported


def test_stdlib_docs_as_frame(docs: list[DocEntry]) -> None:
    pd = pytest.importorskip("pandas")
    frame = datasets.stdlib_docs(as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["name", "kind", "module", "package", "text"]
    assert len(frame) == len(docs)
    assert frame["name"].tolist() == [e.name for e in docs]
    assert frame.iloc[0]["text"] == docs[0].text


def test_stdlib_docs_as_frame_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pandas(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas"):
        datasets.stdlib_docs(as_frame=True)
    assert len(datasets.stdlib_docs()) >= 3000  # the list form does not need pandas


def test_pydoc_topics() -> None:
    topics = datasets.pydoc_topics()
    assert len(topics) >= 50
    assert all(t.kind == "topic" and t.package == "topic" and t.text for t in topics)
    assert [t.name for t in topics] == sorted(t.name for t in topics)
    assert "assert" in {t.name for t in topics}
    assert datasets.pydoc_topics() == topics


def test_short_texts() -> None:
    texts = datasets.short_texts()
    assert len(texts) >= 2500
    assert all(20 <= len(t) <= 300 for t in texts)
    assert all(t == " ".join(t.split()) for t in texts)  # one line, no stray whitespace
    assert len(set(texts)) == len(texts)
    assert datasets.short_texts() == texts


def test_short_texts_prefix_is_a_mixed_sample() -> None:
    assert datasets.short_texts(100) == datasets.short_texts()[:100]
    assert datasets.short_texts(0) == []
    # The first hundred come from many packages, not from the first few files.
    package_of: dict[str, str] = {}
    for e in datasets.stdlib_docs():
        sentence = datasets._first_sentence(e.text)
        if sentence is not None:
            package_of.setdefault(sentence, e.package)
    assert len({package_of[t] for t in datasets.short_texts(100)}) >= 20


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True, 10**9])
def test_short_texts_rejects_bad_n(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        datasets.short_texts(bad)


def test_teaching_sentences() -> None:
    sentences = datasets.teaching_sentences()
    for seed in SEED_SENTENCES:
        assert seed in sentences
    assert len(sentences) >= 30
    assert len(set(sentences)) == len(sentences)
    pairs = datasets.teaching_topics()
    assert [s for s, _ in pairs] == sentences
    counts = Counter(topic for _, topic in pairs)
    assert len(counts) >= 6
    assert min(counts.values()) >= 4
    assert dict(pairs)["The cat sits on the mat"] == dict(pairs)["A feline rests on the rug"]
    # Grouped, so a similarity matrix in this order shows blocks.
    topics = [topic for _, topic in pairs]
    assert topics == sorted(topics, key=topics.index)


def test_teaching_results_are_fresh() -> None:
    datasets.teaching_sentences().clear()
    datasets.teaching_topics().clear()
    assert "The cat sits on the mat" in datasets.teaching_sentences()


def test_panda_example() -> None:
    query, documents = datasets.panda_example()
    assert query == "What is a panda?"
    assert documents == [
        "hi",
        "it's a bear",
        "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
        "panda, is a bear species endemic to China.",
        "what is panda?",
    ]
    documents.append("changed")
    assert len(datasets.panda_example()[1]) == 4


def test_all_exports_exist() -> None:
    for name in datasets.__all__:
        assert hasattr(datasets, name)
