"""One-sentence summaries of the standard library's docstrings."""

from __future__ import annotations

import functools
import hashlib
import re

from embed_nb.errors import InvalidInputError

from .stdlib import _stdlib_entries, _stdlib_root

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
