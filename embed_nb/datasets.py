"""Small real corpora that need no download.

Everything here is built from text that ships with Python itself, or is written out in this
file, so it works offline and in a fresh environment:

* :func:`stdlib_docs`: docstrings of the public standard library (modules, classes, functions,
  methods), labelled by top-level package. Read from the ``.py`` sources with :mod:`ast`, so no
  standard-library module is imported (importing some of them has side effects:
  ``antigravity`` opens a browser, ``this`` prints, ``tkinter`` wants a display).
* :func:`pydoc_topics`: the long help topics that ``help("topics")`` shows.
* :func:`short_texts`: one-sentence summaries, for benchmarks and fidelity checks.
* :func:`teaching_sentences` / :func:`teaching_topics`: a hand-written set of near-paraphrases
  in clear topics, so that a similarity matrix shows blocks.
* :func:`panda_example`: the rerank teaching example (a query and four documents).

Results are cached per process and handed out as fresh lists of frozen records, so a caller
that edits what it got cannot change what the next caller gets.
"""

from __future__ import annotations

import ast
import functools
import gc
import hashlib
import inspect
import os
import re
import sysconfig
import warnings
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from embed_nb.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DocEntry",
    "DocKind",
    "panda_example",
    "pydoc_topics",
    "short_texts",
    "stdlib_docs",
    "teaching_sentences",
    "teaching_topics",
]

DocKind = Literal["module", "class", "function", "method", "topic"]


@dataclass(frozen=True, slots=True)
class DocEntry:
    """One documented object and its docstring.

    Attributes:
        name: Qualified name, e.g. ``"json.decoder.JSONDecoder.decode"``. For a pydoc topic,
            the topic name, e.g. ``"assert"``.
        kind: ``"module"``, ``"class"``, ``"function"``, ``"method"`` or ``"topic"``.
        module: The module that defines it, e.g. ``"json.decoder"``.
        package: The colour label: the top-level package (``"json"``), or ``"topic"`` for a
            pydoc topic.
        text: The docstring, cleaned with :func:`inspect.cleandoc`; never empty.
    """

    name: str
    kind: DocKind
    module: str
    package: str
    text: str


# --------------------------------------------------------------------------- stdlib_docs

# Folders that hold test suites, demos or third-party code rather than documented API.
_SKIP_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "turtledemo", "pydoc_data"}
)

# Statements whose bodies still run at module or class level, so definitions inside them
# (``if sys.platform == ...: def f()``, ``try: ... except ImportError: def f()``) are real API.
_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With)

_DefNode = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


def _is_public(name: str) -> bool:
    # Private and dunder names alike: dunder docstrings are mostly boilerplate
    # ("Return repr(self).") that would crowd every plot with one cluster.
    return not name.startswith("_")


def _stdlib_files(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """Public importable ``.py`` files under ``root``, as (module parts, path), sorted by path."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        parts = here.relative_to(root).parts
        # Descend only into public packages: this also drops lib-dynload, config-3.x-...,
        # __pycache__ and site-packages, none of which is an importable package name.
        dirnames[:] = [
            d
            for d in dirnames
            if d.isidentifier()
            and _is_public(d)
            and d not in _SKIP_DIRS
            and (here / d / "__init__.py").is_file()
        ]
        for filename in filenames:
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or not stem.isidentifier():
                continue
            if stem == "__init__":
                if not parts:  # a stray __init__.py at the stdlib root is not a module
                    continue
                module_parts = parts
            elif _is_public(stem) and not stem.startswith("test_"):
                module_parts = (*parts, stem)
            else:
                continue
            found.append((module_parts, here / filename))
    # Sort by path, not by walk order, which depends on the file system.
    found.sort(key=lambda item: item[1].relative_to(root).parts)
    return found


def _walk_defs(body: list[ast.stmt]) -> Iterator[_DefNode]:
    """Definitions in a module or class body, in source order, including conditional ones."""
    for node in body:
        if isinstance(node, _DefNode):
            yield node
        elif isinstance(node, _BLOCKS):
            yield from _walk_defs(node.body)
            if isinstance(node, ast.If | ast.Try | ast.TryStar):
                yield from _walk_defs(node.orelse)
            if isinstance(node, ast.Try | ast.TryStar):
                for handler in node.handlers:
                    yield from _walk_defs(handler.body)
                yield from _walk_defs(node.finalbody)


def _docstring(node: ast.Module | _DefNode) -> str:
    raw = ast.get_docstring(node, clean=False)
    return inspect.cleandoc(raw).strip() if raw else ""


def _module_entries(tree: ast.Module, module: str) -> Iterator[DocEntry]:
    """Entries for one parsed module: the module itself, then its public definitions."""
    package = module.split(".", 1)[0]
    text = _docstring(tree)
    if text:
        yield DocEntry(module, "module", module, package, text)

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> Iterator[DocEntry]:
        for node in _walk_defs(body):
            if not _is_public(node.name):
                continue
            name = f"{prefix}.{node.name}"
            text = _docstring(node)
            if isinstance(node, ast.ClassDef):
                if text:
                    yield DocEntry(name, "class", module, package, text)
                # Nested classes and methods are API; functions nested in functions are not.
                yield from visit(node.body, name, in_class=True)
            elif text:
                yield DocEntry(name, "method" if in_class else "function", module, package, text)

    yield from visit(tree.body, module, in_class=False)


@functools.lru_cache(maxsize=4)
def _stdlib_entries(root: str) -> tuple[DocEntry, ...]:
    # Parsing makes millions of short-lived AST nodes, and letting the cycle collector sweep
    # the heap (large in a busy kernel) every 700 of them costs a quarter of the time
    # even in a bare interpreter. Nothing made here forms cycles that must be reclaimed early.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return tuple(_parse_stdlib(Path(root)))
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_stdlib(root: Path) -> Iterator[DocEntry]:
    seen_names: set[str] = set()
    seen_texts: set[str] = set()
    with warnings.catch_warnings():
        # Old sources trigger SyntaxWarning/DeprecationWarning (invalid escapes) when parsed.
        warnings.simplefilter("ignore")
        for module_parts, path in _stdlib_files(root):
            try:
                # Bytes, so that ast honours each file's own coding cookie.
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError, RecursionError):
                continue  # unreadable or Python-2 leftovers: not part of the usable stdlib
            for entry in _module_entries(tree, ".".join(module_parts)):
                # The first definition wins (platform branches, @overload stubs); identical
                # texts (copied docstrings of overriding methods) would sit on one point.
                if entry.name in seen_names:
                    continue
                seen_names.add(entry.name)
                if entry.text not in seen_texts:
                    seen_texts.add(entry.text)
                    yield entry


def _stdlib_root() -> str:
    return sysconfig.get_paths()["stdlib"]


@overload
def stdlib_docs(*, as_frame: Literal[False] = ...) -> list[DocEntry]: ...


@overload
def stdlib_docs(*, as_frame: Literal[True]) -> pd.DataFrame: ...


@overload
def stdlib_docs(*, as_frame: bool) -> list[DocEntry] | pd.DataFrame: ...


def stdlib_docs(*, as_frame: bool = False) -> list[DocEntry] | pd.DataFrame:
    """Docstrings of the public Python standard library.

    The ``.py`` sources under ``sysconfig.get_paths()["stdlib"]`` are parsed with :mod:`ast`;
    nothing is imported. Kept: modules, classes, functions and methods with a non-empty
    docstring, including definitions inside module-level ``if``/``try``/``with`` blocks.
    Left out: test suites (``test``, ``tests``, ``idle_test``, ``test_*.py``), ``turtledemo``,
    ``pydoc_data`` (see :func:`pydoc_topics`), site-packages, C extension modules (they have no
    source), every module, package or object whose name starts with an underscore (dunder
    methods included), functions nested in functions, and any entry whose text repeats an
    earlier one.

    The order is deterministic: by file path, then source order. The first call parses the
    library (about two seconds); later calls are served from a per-process cache.

    Args:
        as_frame: Return a :class:`pandas.DataFrame` with columns ``name``, ``kind``,
            ``module``, ``package`` and ``text`` instead of a list. Needs pandas.

    Returns:
        A new list of :class:`DocEntry` (about 6,000 on CPython 3.11), or a DataFrame.

    Raises:
        ImportError: ``as_frame=True`` and pandas is not installed.
    """
    entries = list(_stdlib_entries(_stdlib_root()))
    return _to_frame(entries) if as_frame else entries


def _to_frame(entries: list[DocEntry]) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional: only the frame form needs it
        raise ImportError(
            "as_frame=True needs pandas, which is not installed: run `pip install pandas`, "
            "or call without as_frame to get a list of DocEntry"
        ) from exc
    columns = [f.name for f in fields(DocEntry)]
    return pd.DataFrame([astuple(e) for e in entries], columns=columns)


# --------------------------------------------------------------------------- pydoc_topics


@functools.lru_cache(maxsize=1)
def _pydoc_entries() -> tuple[DocEntry, ...]:
    # A plain data module (one dict of strings): importing it has no side effects.
    from pydoc_data.topics import topics

    entries = []
    for name in sorted(topics):
        text = inspect.cleandoc(topics[name]).strip()
        if text:
            entries.append(DocEntry(name, "topic", "pydoc_data.topics", "topic", text))
    return tuple(entries)


def pydoc_topics() -> list[DocEntry]:
    """The help topics of ``pydoc`` (``help("topics")``), one entry per topic.

    These are long texts (a few hundred to tens of thousands of characters) taken from the
    language reference, e.g. ``"assert"``, ``"typesseq"``, ``"specialnames"``.

    Returns:
        A new list of :class:`DocEntry` with ``kind`` and ``package`` both ``"topic"``,
        ``module`` ``"pydoc_data.topics"``, sorted by topic name.
    """
    return list(_pydoc_entries())


# --------------------------------------------------------------------------- short_texts

# A sentence ends at . ! or ? followed by a capitalised word (or the end). Requiring the
# capital keeps "e.g. foo" and "i.e. bar" inside their sentence.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(\"'`]|$)")
# Summaries that are really call signatures ("S.split(sep=None) -> list of strings").
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(->|$)")
_MIN_SHORT, _MAX_SHORT = 20, 300


def _first_sentence(text: str) -> str | None:
    """The first sentence of a docstring's first paragraph, or None if it is unfit."""
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    match = _SENTENCE_END.search(paragraph)
    sentence = paragraph[: match.end()] if match else paragraph
    if not _MIN_SHORT <= len(sentence) <= _MAX_SHORT:
        return None
    if _SIGNATURE.match(sentence) or ">>>" in sentence or len(sentence.split()) < 3:
        return None
    if not sentence[0].isalpha():  # markup, option lists, "$Id$" lines
        return None
    return sentence


@functools.lru_cache(maxsize=4)
def _short_texts(root: str) -> tuple[str, ...]:
    unique = {s for e in _stdlib_entries(root) if (s := _first_sentence(e.text)) is not None}
    # Order by a hash of the text, so any prefix is a mixed sample across packages (path order
    # would give a first hundred all from abc, aifc and argparse), and a sentence keeps its
    # place relative to the others when the standard library changes around it.
    return tuple(sorted(unique, key=lambda s: hashlib.blake2b(s.encode(), digest_size=8).digest()))


def short_texts(n: int | None = None) -> list[str]:
    """Real short sentences: the first sentence of each standard-library docstring.

    Sentences are 20 to 300 characters long, unique, and in a fixed order that mixes
    packages, so ``short_texts(100)`` is a fair sample and is the same on every call.
    About 5,400 are available on CPython 3.11.

    Args:
        n: How many to return; ``None`` for all of them.

    Returns:
        A new list of sentences.

    Raises:
        InvalidInputError: ``n`` is negative, not an int, or more than are available.
    """
    texts = _short_texts(_stdlib_root())
    if n is None:
        return list(texts)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"n must be a non-negative int or None, not {n!r}")
    if n > len(texts):
        raise InvalidInputError(
            f"only {len(texts)} short texts are available, not {n}; "
            "repeat them (e.g. (short_texts() * k)[:n]) if you need more"
        )
    return list(texts[:n])


# --------------------------------------------------------------------------- teaching set

# Groups of near-paraphrases, so a similarity matrix shows one bright block per topic (and
# brighter pairs inside it). The first three sentences come from the project's seed.
_TEACHING: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "animals",
        (
            "The cat sits on the mat",
            "A feline rests on the rug",
            "A kitten is napping on the carpet",
            "The dog sleeps by the fireplace",
            "A puppy is lying next to the fire",
            "Horses are grazing in the field",
        ),
    ),
    (
        "programming",
        (
            "Python programming language",
            "Python is a popular language for writing software",
            "Writing code in Python is easy to learn",
            "The program crashed because of a bug in the loop",
            "A defect in the loop made the application fail",
            "Run the unit tests before you merge the branch",
        ),
    ),
    (
        "cooking",
        (
            "Chop the onions and fry them in olive oil",
            "Slice an onion and cook it gently in a little oil",
            "Bake the bread in a hot oven for forty minutes",
            "Put the loaf in the oven and bake it for about forty minutes",
            "This soup needs more salt and pepper",
            "Season the soup with a bit more salt and pepper",
        ),
    ),
    (
        "sport",
        (
            "The striker scored a goal in the final minute",
            "A last-minute goal won the football match",
            "She ran the marathon in under three hours",
            "The runner finished the long-distance race in less than three hours",
            "The tennis player served an ace to win the set",
            "He took the set with a serve his opponent could not return",
        ),
    ),
    (
        "weather",
        (
            "It is raining heavily this morning",
            "There is a downpour outside today",
            "Tomorrow will be sunny and warm",
            "The forecast promises clear skies and high temperatures tomorrow",
            "A strong wind knocked down trees during the storm",
            "The gale blew over several trees last night",
        ),
    ),
    (
        "space",
        (
            "The astronauts landed on the Moon",
            "Humans walked on the lunar surface",
            "Mars is known as the red planet",
            "The fourth planet from the Sun looks red",
            "The telescope photographed a distant galaxy",
            "A space telescope captured an image of a faraway galaxy",
        ),
    ),
    (
        "music",
        (
            "She plays the piano every evening",
            "Every night she practises on her piano",
            "The orchestra performed a symphony by Beethoven",
            "A Beethoven symphony was played by the orchestra",
            "He is learning to play the guitar",
            "He takes guitar lessons every week",
        ),
    ),
)


def teaching_topics() -> list[tuple[str, str]]:
    """The teaching set with labels, grouped by topic.

    Seven topics (animals, programming, cooking, sport, weather, space, music) of six
    sentences each, written in pairs of near-paraphrases. It starts with the seed sentences
    "The cat sits on the mat", "A feline rests on the rug" and, first in programming,
    "Python programming language".

    Returns:
        A new list of ``(sentence, topic)`` pairs, in topic order.
    """
    return [(sentence, topic) for topic, sentences in _TEACHING for sentence in sentences]


def teaching_sentences() -> list[str]:
    """The sentences of :func:`teaching_topics`, without labels, in the same order.

    Returns:
        A new list of 42 sentences.
    """
    return [sentence for sentence, _ in teaching_topics()]


# --------------------------------------------------------------------------- rerank example


def panda_example() -> tuple[str, list[str]]:
    """The rerank teaching example: a query and four documents.

    The documents are a greeting, a short answer, an encyclopaedic answer, and a restatement
    of the question that shares the most words with the query but answers nothing, so the
    example shows a reranker judging relevance rather than word overlap.

    Returns:
        ``(query, documents)``, with a new list of documents on every call.
    """
    query = "What is a panda?"
    documents = [
        "hi",
        "it's a bear",
        "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
        "panda, is a bear species endemic to China.",
        "what is panda?",
    ]
    return query, documents
