"""Small real corpora that need no download.

Everything here is built from text that ships with Python itself, or is written out in this
package, so it works offline and in a fresh environment:

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

from .entry import DocEntry, DocKind
from .short import _first_sentence as _first_sentence
from .short import short_texts
from .stdlib import stdlib_docs
from .teaching import panda_example, teaching_sentences, teaching_topics
from .topics import pydoc_topics

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
