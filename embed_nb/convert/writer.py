"""Writing a BERT encoder (optionally with a classification head) as a GGUF file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import gguf
import numpy as np

from embed_nb.errors import InvalidInputError, ModelLoadError

from ..pooling import POOLING_TYPES
from .atomic import write_gguf_atomically
from .bert import _CONTROL, BertHParams, BertVocab, OutType
from .tensors import _cast, _rename_tensors

_ARCH = "bert"


def write_bert_gguf(
    out_path: str | os.PathLike[str],
    hparams: BertHParams,
    tensors: Mapping[str, np.ndarray],
    vocab: BertVocab,
    *,
    pooling: str | None = "mean",
    outtype: OutType = "f16",
    name: str | None = None,
    classifier_labels: Sequence[str] | None = None,
    rerank_template: str | None = None,
    keep_pooler: bool = True,
) -> Path:
    """Write a BERT encoder (optionally with a classification head) as a GGUF file.

    Args:
        out_path: Destination; written atomically.
        hparams: Model shape.
        tensors: Weights in HF naming (``bert.`` prefix optional, ``gamma``/``beta`` accepted).
        vocab: The WordPiece vocabulary and special tokens.
        pooling: ``"none"``, ``"mean"``, ``"cls"``, ``"last"``, ``"rank"``, or None to write no
            pooling type (llama.cpp then treats it as ``none``).
        outtype: ``"f16"`` or ``"f32"`` for the large matrices; 1-D tensors, norms and position /
            token-type embeddings are always f32, as llama.cpp's converter does.
        name: ``general.name``.
        classifier_labels: Output labels of a classification head; their count is the number
            of scores llama.cpp's RANK pooling returns (``llama_model_n_cls_out``).
        rerank_template: Optional ``tokenizer.chat_template.rerank`` prompt containing
            ``{query}`` and ``{document}``.
        keep_pooler: Keep ``pooler.dense`` as the ``cls`` tensor when there is a classifier.

    Returns:
        The path written.
    """
    if outtype not in ("f16", "f32"):
        raise InvalidInputError(f"outtype must be 'f16' or 'f32', not {outtype!r}")
    if pooling is not None and pooling not in POOLING_TYPES:
        raise InvalidInputError(
            f"pooling must be one of {sorted(POOLING_TYPES)} or None, not {pooling!r}"
        )
    renamed = _rename_tensors(tensors, hparams.n_layer, keep_pooler=keep_pooler)
    has_classifier = "cls.output.weight" in renamed
    if has_classifier and not classifier_labels:
        classifier_labels = [f"LABEL_{i}" for i in range(renamed["cls.output.weight"].shape[0])]

    writer = gguf.GGUFWriter(path=None, arch=_ARCH)
    _add_general(writer, name, outtype)
    _add_hparams(writer, hparams, pooling, classifier_labels if has_classifier else None)
    _add_vocab(writer, vocab, hparams.type_vocab_size, rerank_template)
    for gguf_name, array in renamed.items():
        writer.add_tensor(gguf_name, _cast(gguf_name, array, outtype))
    return write_gguf_atomically(writer, out_path)


def _add_general(writer: gguf.GGUFWriter, name: str | None, outtype: OutType) -> None:
    writer.add_type(gguf.GGUFType.MODEL)
    if name:
        writer.add_name(name)
    ftype = gguf.LlamaFileType.MOSTLY_F16 if outtype == "f16" else gguf.LlamaFileType.ALL_F32
    writer.add_file_type(ftype)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_hparams(
    writer: gguf.GGUFWriter,
    hp: BertHParams,
    pooling: str | None,
    classifier_labels: Sequence[str] | None,
) -> None:
    writer.add_block_count(hp.n_layer)
    writer.add_context_length(hp.n_ctx)
    writer.add_embedding_length(hp.n_embd)
    writer.add_feed_forward_length(hp.n_ff)
    writer.add_head_count(hp.n_head)
    writer.add_layer_norm_eps(hp.layer_norm_eps)
    writer.add_causal_attention(False)
    if pooling is not None:
        writer.add_pooling_type(gguf.PoolingType(POOLING_TYPES[pooling]))
    if classifier_labels:
        writer.add_classifier_output_labels(list(classifier_labels))


def _add_vocab(
    writer: gguf.GGUFWriter, vocab: BertVocab, type_vocab_size: int, rerank_template: str | None
) -> None:
    writer.add_tokenizer_model("bert")
    # llama.cpp ignores the pre-tokenizer name for WPM vocabularies.
    writer.add_tokenizer_pre("default")
    writer.add_token_type_count(type_vocab_size)
    tokens = [_phantom(t, k) for t, k in zip(vocab.tokens, vocab.token_types, strict=True)]
    _check_unique(tokens)
    writer.add_token_list(tokens)
    writer.add_token_types(list(vocab.token_types))
    for kind, token_id in vocab.special_ids.items():
        # llama.cpp reads no CLS id (BOS plays that part), so its converter writes none either.
        if kind in _SPECIAL_KEYS:
            writer.add_uint32(f"tokenizer.ggml.{_SPECIAL_KEYS[kind]}", token_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    writer.add_add_sep_token(vocab.add_sep)
    if vocab.lowercase is not None:
        writer.add_bool("tokenizer.ggml.normalizer.lowercase", vocab.lowercase)
    if vocab.strip_accents is not None:
        writer.add_bool("tokenizer.ggml.normalizer.strip_accents", vocab.strip_accents)
    if rerank_template is not None:
        writer.add_string("tokenizer.chat_template.rerank", rerank_template)


# llama.cpp's metadata key for each special token kind ("seperator" is its spelling).
_SPECIAL_KEYS = {
    "bos": "bos_token_id",
    "eos": "eos_token_id",
    "unk": "unknown_token_id",
    "sep": "seperator_token_id",
    "pad": "padding_token_id",
    "mask": "mask_token_id",
}


def _check_unique(tokens: Sequence[str]) -> None:
    # llama.cpp aborts the whole process (GGML_ASSERT) on a repeated token, so refuse here.
    repeated = [t for t, n in Counter(tokens).items() if n > 1]
    if repeated:
        raise ModelLoadError(
            f"the vocabulary repeats tokens {repeated[:5]!r}; llama.cpp rejects it"
        )


def _phantom(token: str, token_type: int) -> str:
    """llama.cpp's WPM form: words start with ``▁``, ``##`` continuations lose the ``##``."""
    if token_type == _CONTROL:
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token
