"""The long help topics that ``help("topics")`` shows."""

from __future__ import annotations

import functools
import inspect

from .entry import DocEntry


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
