"""Formatting (query, document) pairs the way llama-server's ``format_prompt_rerank`` does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TokenizeFn = Callable[[str, bool, bool], np.ndarray]  # (text, add_special, parse_special)


@dataclass(frozen=True)
class PairFormat:
    """What a reranker's vocab and metadata say about building its input."""

    template: str | None  # the GGUF's "rerank" chat template, with {query} and {document}
    bos: int | None  # None when the vocab does not add BOS
    eos: int | None  # EOS, or SEP where there is no EOS; None when EOS is not added
    sep: int | None  # None when the vocab does not add SEP


def format_pair(fmt: PairFormat, tokenize: TokenizeFn, query: str, document: str) -> np.ndarray:
    """Tokens for one pair.

    With a template: fill it in, then tokenise with parse_special on and add_special off.
    Without one: ``[BOS] query [EOS] [SEP] document [EOS]``, each marker present only when the
    vocab's add_bos / add_eos / add_sep flag says so; texts tokenised with neither flag.
    """
    if fmt.template is not None:
        prompt = fmt.template.replace("{query}", query).replace("{document}", document)
        return tokenize(prompt, False, True)
    parts: list[np.ndarray | list[int]] = []
    if fmt.bos is not None:
        parts.append([fmt.bos])
    parts.append(tokenize(query, False, False))
    if fmt.eos is not None:
        parts.append([fmt.eos])
    if fmt.sep is not None:
        parts.append([fmt.sep])
    parts.append(tokenize(document, False, False))
    if fmt.eos is not None:
        parts.append([fmt.eos])
    return np.concatenate([np.asarray(p, dtype=np.int32) for p in parts])
