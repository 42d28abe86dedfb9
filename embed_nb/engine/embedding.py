"""The embed and rerank paths of :class:`~embed_nb.engine.model.LocalModel` around its decode
loop: the request checked, texts cut into windows that fit, and decode outputs assembled into
one :class:`~embed_nb.results.Embeddings` (a chunked text's windows averaged)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import InputTooLongError, InvalidInputError
from ..request import EmbedRequest
from ..results import Embeddings, RerankResult, rank_hits
from . import native
from .inputs import Framing, fit_to_limit, token_id_lists, utf8
from .normalize import normalize as normalize_vectors
from .rerank import PairFormat, format_pair
from .rerank_instruction import with_instruction

if TYPE_CHECKING:
    from .model import LocalModel

__all__ = [
    "Windows",
    "assemble",
    "average_windows",
    "classifier_labels",
    "missing_eos_text",
    "rerank_format",
    "rerank_pairs",
    "rerank_result",
    "special_framing",
    "text_windows",
    "token_windows",
    "tokenize_input",
]


def tokenize_input(tokenizer: Any, text: str, index: int) -> np.ndarray:
    """A text's token ids as llama-server makes them (special tokens added and parsed)."""
    tokens = tokenizer(utf8(text, index), add_special=True, parse_special=True)
    if len(tokens) == 0:  # llama-server: "Input content cannot be empty"
        raise InvalidInputError(
            f"text {index} is empty and this model adds no special tokens; pass some text"
        )
    return tokens


class Windows(NamedTuple):
    """Token sequences to decode, and the text each belongs to (a chunked text has several)."""

    sequences: list[np.ndarray]
    owners: list[int]


def text_windows(model: LocalModel, items: list[str], request: EmbedRequest) -> Windows:
    """Token ids for each text, as windows that fit the context (one unless chunked), and the
    text each window belongs to. Call with the model's lock held."""
    if request.chunk and model.pooling in ("none", "rank"):
        raise InvalidInputError(
            f"chunk=True needs a pooled model; this one pools {model.pooling!r}"
        )
    sequences: list[np.ndarray] = []
    owners: list[int] = []
    for i, text in enumerate(items):
        tokens = tokenize_input(model._tokenizer, text, i)
        # The doctor compares the longest text seen with the context (before any cut).
        model.longest_input = max(model.longest_input, len(tokens))
        windows = fit_to_limit(
            tokens,
            model.max_tokens,
            model._framing,
            index=i,
            truncate=request.truncate,
            chunk=request.chunk,
        )
        sequences.extend(windows)
        owners.extend([i] * len(windows))
    return Windows(sequences, owners)


def token_windows(model: LocalModel, sequences: Sequence[Sequence[int]]) -> Windows:
    """Token id sequences given by the caller, checked against the vocabulary and context."""
    arrays = token_id_lists(sequences, model.info.vocab_size)
    for index, array in enumerate(arrays):
        if len(array) > model.max_tokens:
            raise InputTooLongError(index, len(array), model.max_tokens)
    return Windows(arrays, list(range(len(arrays))))


def assemble(
    model: LocalModel,
    request: EmbedRequest,
    texts: list[str],
    windows: Windows,
    outputs: list[np.ndarray],
    *,
    single: bool = False,
) -> Embeddings:
    """Gather decode outputs into one result per text (averaging a chunked text's windows)."""
    sequences, owners = windows
    lengths = [len(s) for s in sequences]
    counts = np.bincount(owners, weights=lengths, minlength=len(texts))
    rows: np.ndarray | list[np.ndarray] = outputs
    if model.pooling != "none":
        pooled = average_windows(outputs, owners, lengths, len(texts))
        rows = normalize_vectors(pooled, request.normalize)
    return Embeddings.from_parts(
        model=model,
        request=request,
        texts=texts,
        rows=rows,
        token_counts=[int(c) for c in counts],
        single=single,
    )


def average_windows(
    outputs: list[np.ndarray], owners: list[int], lengths: list[int], n_texts: int
) -> np.ndarray:
    """One pooled vector per text: windows of a chunked text averaged, weighted by length."""
    stacked = np.stack(outputs)
    if len(outputs) == n_texts:  # no text was chunked, the usual case
        return stacked
    weights = np.asarray(lengths, dtype=np.float64)
    sums = np.zeros((n_texts, stacked.shape[1]), dtype=np.float64)
    np.add.at(sums, owners, stacked * weights[:, None])
    totals = np.bincount(owners, weights=weights, minlength=n_texts)
    return (sums / totals[:, None]).astype(np.float32)


def rerank_pairs(
    model: LocalModel,
    query: str,
    docs: Sequence[str],
    *,
    truncate: bool,
    instruction: str | None = None,
) -> list[np.ndarray]:
    """Each (query, document) pair in the model's rerank format, fitted to the context. Call
    with the model's lock held. ``instruction`` replaces the template's default one."""

    def plain(text: str, add_special: bool, parse_special: bool) -> np.ndarray:
        return model._tokenizer(
            text.encode("utf-8"), add_special=add_special, parse_special=parse_special
        )

    fmt = with_instruction(model._pair_format, instruction, model.name)
    pairs = []
    keep_tail = Framing(0, 1 if fmt.eos is not None else 0)
    for i, doc in enumerate(docs):
        tokens = format_pair(fmt, plain, query, doc)
        if len(tokens) == 0:
            raise InvalidInputError(f"pair {i} is empty after tokenisation")
        pairs.extend(
            fit_to_limit(
                tokens, model.max_tokens, keep_tail, index=i, truncate=truncate, chunk=False
            )
        )
    return pairs


def rerank_result(
    model: LocalModel,
    query: str,
    docs: list[str],
    pairs: list[np.ndarray],
    outputs: list[np.ndarray],
    top_n: int | None,
) -> RerankResult:
    """Scores are the raw first classifier output, as llama-server's ``/v1/rerank`` gives them."""
    scores = [float(out[0]) for out in outputs]
    return RerankResult(
        query=query,
        hits=rank_hits(query, docs, scores, top_n),
        model=model.name,
        method="rank",
        total_tokens=sum(len(p) for p in pairs),
    )


# --- what setup reads from the model file for these paths ----------------------------------


def special_framing(tokenizer: Any, vocab: Any) -> Framing:
    """How many special tokens the model puts before and after a text (kept when cutting)."""
    ll = native.lib()
    frame = tokenizer(b"", add_special=True, parse_special=False)
    n_prefix = int(bool(ll.llama_vocab_get_add_bos(vocab)) and len(frame) > 0)
    return Framing(n_prefix, len(frame) - n_prefix)


def rerank_format(model: Any, vocab: Any) -> PairFormat:
    """How a (query, document) pair is laid out: the model's rerank template, else tokens."""
    ll = native.lib()
    template = ll.llama_model_chat_template(model, b"rerank")
    eos = ll.llama_vocab_eos(vocab)
    if eos == -1:  # LLAMA_TOKEN_NULL: llama-server falls back to SEP
        eos = ll.llama_vocab_sep(vocab)
    return PairFormat(
        template=template.decode("utf-8") if template else None,
        bos=ll.llama_vocab_bos(vocab) if ll.llama_vocab_get_add_bos(vocab) else None,
        eos=eos if ll.llama_vocab_get_add_eos(vocab) else None,
        sep=ll.llama_vocab_sep(vocab) if ll.llama_vocab_get_add_sep(vocab) else None,
    )


def missing_eos_text(vocab: Any) -> str:
    """The EOS token's text when the tokenizer does not add EOS itself ("" when it does, or
    has none): appended to a text, the engine (parse_special=True) reads it as the token."""
    ll = native.lib()
    eos = ll.llama_vocab_eos(vocab)
    if ll.llama_vocab_get_add_eos(vocab) or eos == -1:  # -1: LLAMA_TOKEN_NULL
        return ""
    text = ll.llama_vocab_get_text(vocab, eos)
    return text.decode("utf-8", "replace") if text else ""


def classifier_labels(model: Any, n_embd: int, pooling: str) -> list[str]:
    """A reranker's classifier output labels (none for other models)."""
    if pooling != "rank":
        return []
    ll = native.lib()
    labels = (ll.llama_model_cls_label(model, i) for i in range(n_embd))
    return [label.decode("utf-8", "replace") for label in labels if label]
