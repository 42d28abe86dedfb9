"""Tiny GGUF models that tests build on the spot: no download, a few hundred KiB, deterministic.

Each ``write_tiny_*`` function writes a GGUF file from seeded random weights and returns its path.
The weights mean nothing, but the files exercise llama.cpp exactly like real ones do: the BERT
models go through :func:`embed_nb.convert.write_bert_gguf` (the code path real checkpoints take),
with a WordPiece vocabulary of real English word pieces so real sentences tokenise; the llama
model has a byte-level BPE vocabulary, so any UTF-8 text tokenises.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Literal

import gguf
import numpy as np

from embed_nb.convert import (
    POOLING_TYPES,
    BertHParams,
    BertVocab,
    write_bert_gguf,
    write_gguf_atomically,
)

__all__ = [
    "CRAFTED_CASES",
    "QUANT_TYPES",
    "TINY_N_EMBD",
    "TINY_WORDS",
    "write_crafted",
    "write_quantized",
    "write_tiny_bert",
    "write_tiny_bert_checkpoint",
    "write_tiny_llama",
    "write_tiny_reranker",
]

#: Hidden size of every tiny model (and so the length of their embeddings).
TINY_N_EMBD = 32
_N_LAYER = 2
_N_HEAD = 4
_N_FF = 64

#: Whole words both tiny vocabularies know; anything else still tokenises, in smaller pieces.
TINY_WORDS = (  # noqa: SIM905 - a word list reads better as text
    "the a an and or but not no yes is are was were be been has have had do does did "
    "i you he she it we they me him her us them my your his its our their this that these those "
    "what which who when where why how all any some many more most other such only own same "
    "so than too very can will just should now of in on at by for with about against between "
    "into through during before after above below to from up down out off over under again "
    "cat cats dog dogs bird fish animal pet food eat eats ate water drink sun moon star sky "
    "car cars bus train road city town house home room door window table chair bed book books "
    "read write reading writing paper pen school student students teacher class learn learning "
    "model models text texts word words sentence sentences vector vectors embedding embeddings "
    "search query document documents rank ranking score similar similarity meaning language "
    "machine computer data science python code program paris france london berlin capital "
    "quick brown fox jumps lazy hello world good bad new old big small long short high low "
    "day night time year week people man woman child children friend music song play game"
).split()

_SUFFIXES = ("s", "es", "ed", "ing", "ly", "er", "est", "ion", "al", "ness")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# BERT


def _bert_vocab() -> BertVocab:
    """Special tokens, punctuation, digits, letters with ``##`` continuations, and words."""
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    pieces = ["##" + x for x in [*letters, *digits, *_SUFFIXES]]
    words = [*punct, *digits, *letters, *pieces, *TINY_WORDS]
    # llama.cpp aborts on a vocabulary with a token twice, so drop repeats.
    return BertVocab.from_tokens(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(words)]
    )


def _bert_tensors(
    rng: np.random.Generator,
    n_vocab: int,
    n_ctx: int,
    *,
    classifier: bool,
    n_embd: int = TINY_N_EMBD,
    n_ff: int = _N_FF,
    n_layer: int = _N_LAYER,
    std: float = 0.2,
) -> dict[str, np.ndarray]:
    """Random weights in HF BertModel naming (small, so activations stay tame).

    ``std`` is the spread of the matrices' entries (biases and norms are scaled from it);
    0.2 suits the 32-wide tiny models, about 1.1 / sqrt(n_embd).
    """
    e, ff = n_embd, n_ff

    def mat(*shape: int) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}.weight": (1.0 + mat(e) * 0.1).astype(np.float32),
            f"{prefix}.bias": mat(e) * 0.1,
        }

    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": mat(n_vocab, e),
        "embeddings.position_embeddings.weight": mat(n_ctx, e),
        "embeddings.token_type_embeddings.weight": mat(2, e),
        **norm("embeddings.LayerNorm"),
    }
    for i in range(n_layer):
        p = f"encoder.layer.{i}"
        linears = {
            "attention.self.query": (e, e),
            "attention.self.key": (e, e),
            "attention.self.value": (e, e),
            "attention.output.dense": (e, e),
            "intermediate.dense": (ff, e),
            "output.dense": (e, ff),
        }
        for name, shape in linears.items():
            t[f"{p}.{name}.weight"] = mat(*shape)
            t[f"{p}.{name}.bias"] = mat(shape[0]) * 0.1
        t.update(norm(f"{p}.attention.output.LayerNorm"))
        t.update(norm(f"{p}.output.LayerNorm"))
    if classifier:
        t["pooler.dense.weight"] = mat(e, e)
        t["pooler.dense.bias"] = mat(e) * 0.1
        t["classifier.weight"] = mat(1, e)
        t["classifier.bias"] = mat(1)
    return {f"bert.{k}": v for k, v in t.items()}


def write_tiny_bert(
    path: str | os.PathLike[str],
    *,
    pooling: str = "mean",
    n_ctx: int = 128,
    seed: int = 0,
    outtype: Literal["f16", "f32"] = "f32",
    n_embd: int = TINY_N_EMBD,
    n_ff: int = _N_FF,
) -> Path:
    """Write a 2-layer, 32-wide BERT encoder with a WordPiece vocabulary.

    Args:
        path: Where to write the GGUF.
        pooling: ``"mean"``, ``"cls"`` or ``"none"`` (also ``"last"``) as ``bert.pooling_type``.
        n_ctx: Trained context length (rows of the position embedding).
        seed: Seed of the random weights.
        outtype: ``"f32"`` or ``"f16"``.
        n_embd: Hidden size (256 lets every matrix be quantised to the K types, whose blocks
            are 256 wide).
        n_ff: Feed-forward size.
    """
    if pooling not in POOLING_TYPES or pooling == "rank":
        raise ValueError(f"pooling must be none, mean, cls or last, not {pooling!r}")
    vocab = _bert_vocab()
    hparams = BertHParams(_N_LAYER, n_embd, n_ff, _N_HEAD, n_ctx)
    tensors = _bert_tensors(
        _rng(seed), len(vocab.tokens), n_ctx, classifier=False, n_embd=n_embd, n_ff=n_ff
    )
    return write_bert_gguf(
        path, hparams, tensors, vocab, pooling=pooling, outtype=outtype, name="tiny-bert"
    )


def write_tiny_reranker(
    path: str | os.PathLike[str],
    *,
    rerank_template: str | None = None,
    n_ctx: int = 128,
    seed: int = 1,
    hparams: BertHParams | None = None,
    vocab: BertVocab | None = None,
    outtype: Literal["f16", "f32"] = "f32",
    name: str = "tiny-reranker",
) -> Path:
    """Write a BERT cross-encoder of random weights: encoder, pooler and a one-score
    classifier, RANK pooling. Tiny (2 layers, 32 wide, the tiny vocabulary) unless
    ``hparams`` and ``vocab`` give another shape.

    Args:
        path: Where to write the GGUF.
        rerank_template: Optional ``tokenizer.chat_template.rerank`` with ``{query}`` and
            ``{document}``; without it llama.cpp pairs texts as ``[CLS] q [SEP] d [SEP]``.
        n_ctx: Trained context length (ignored when ``hparams`` is given).
        seed: Seed of the random weights.
        hparams: Another encoder shape, e.g. a real checkpoint's
            (``BertHParams.from_config``), for a reranker of that size; its matrices get
            the tiny models' spread carried to the wider rows (0.2 * sqrt(32 / n_embd)), so
            activations stay as tame as in the tiny models.
        vocab: Another WordPiece vocabulary (e.g. ``embed_nb.convert.read_bert_vocab`` of a
            checkpoint), so that real text tokenises as that model's does.
        outtype: ``"f32"`` or ``"f16"`` for the large matrices.
        name: ``general.name``.
    """
    vocab = vocab or _bert_vocab()
    if hparams is not None and hparams.type_vocab_size > 2:
        raise ValueError(f"type_vocab_size {hparams.type_vocab_size} > 2 is not supported")
    if hparams is None:
        hparams = BertHParams(_N_LAYER, TINY_N_EMBD, _N_FF, _N_HEAD, n_ctx)
        tensors = _bert_tensors(_rng(seed), len(vocab.tokens), n_ctx, classifier=True)
    else:
        tensors = _bert_tensors(
            _rng(seed),
            len(vocab.tokens),
            hparams.n_ctx,
            classifier=True,
            n_embd=hparams.n_embd,
            n_ff=hparams.n_ff,
            n_layer=hparams.n_layer,
            std=0.2 * (TINY_N_EMBD / hparams.n_embd) ** 0.5,
        )
        tensors["bert.embeddings.token_type_embeddings.weight"] = tensors[
            "bert.embeddings.token_type_embeddings.weight"
        ][: hparams.type_vocab_size]
    return write_bert_gguf(
        path,
        hparams,
        tensors,
        vocab,
        pooling="rank",
        outtype=outtype,
        name=name,
        classifier_labels=["LABEL_0"],
        rerank_template=rerank_template,
    )


# --------------------------------------------------------------------------------------------
# llama (byte-level BPE)


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    kept = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _bpe_vocab() -> tuple[list[str], list[str]]:
    """All 256 byte symbols, plus merges that build each tiny word, then space + word."""
    to_uni = _byte_to_unicode()
    tokens = [to_uni[b] for b in range(256)]
    known = set(tokens)
    merges: list[str] = []

    def merge(left: str, right: str) -> str:
        if left + right not in known:
            merges.append(f"{left} {right}")
            tokens.append(left + right)
            known.add(left + right)
        return left + right

    words = []
    for word in TINY_WORDS:
        symbols = [to_uni[b] for b in word.encode("utf-8")]
        # Left to right: every prefix is a token, so whatever BPE stops at is in the vocabulary.
        current = symbols[0]
        for sym in symbols[1:]:
            current = merge(current, sym)
        words.append(current)
    # Ranked after every word merge, so " quick" ends as one token: "Ġ" + "quick".
    for word in words:
        merge(to_uni[ord(" ")], word)
    return tokens, merges


def write_tiny_llama(
    path: str | os.PathLike[str],
    *,
    pooling: str = "last",
    n_ctx: int = 128,
    seed: int = 2,
) -> Path:
    """Write a 2-layer, 32-wide llama-architecture causal decoder with byte-level BPE.

    The vocabulary covers every byte, so arbitrary UTF-8 tokenises. ``<s>`` is BOS and is added
    (``add_bos_token`` true), ``</s>`` is EOS and is not.

    Args:
        path: Where to write the GGUF.
        pooling: ``"last"`` (default), ``"mean"``, ``"cls"`` or ``"none"``.
        n_ctx: Trained context length.
        seed: Seed of the random weights.
    """
    if pooling not in POOLING_TYPES or pooling == "rank":
        raise ValueError(f"pooling must be none, mean, cls or last, not {pooling!r}")
    tokens, merges = _bpe_vocab()
    bos, eos = len(tokens), len(tokens) + 1
    tokens += ["<s>", "</s>"]
    types = [int(gguf.TokenType.NORMAL)] * (len(tokens) - 2) + [int(gguf.TokenType.CONTROL)] * 2

    w = gguf.GGUFWriter(path=None, arch="llama")
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("tiny-llama")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    _llama_hparams(w, n_ctx, pooling)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    for name, array in _llama_tensors(_rng(seed), len(tokens)).items():
        w.add_tensor(name, array)
    return write_gguf_atomically(w, path)


def _llama_hparams(w: gguf.GGUFWriter, n_ctx: int, pooling: str) -> None:
    w.add_context_length(n_ctx)
    w.add_embedding_length(TINY_N_EMBD)
    w.add_block_count(_N_LAYER)
    w.add_feed_forward_length(_N_FF)
    w.add_head_count(_N_HEAD)
    w.add_head_count_kv(_N_HEAD)
    w.add_rope_dimension_count(TINY_N_EMBD // _N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_pooling_type(gguf.PoolingType(POOLING_TYPES[pooling]))


def _llama_tensors(rng: np.random.Generator, n_vocab: int) -> dict[str, np.ndarray]:
    e, ff = TINY_N_EMBD, _N_FF

    def mat(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.2, size=shape).astype(np.float32)

    def ones() -> np.ndarray:
        return (1.0 + mat(e) * 0.1).astype(np.float32)

    t = {"token_embd.weight": mat(n_vocab, e), "output_norm.weight": ones()}
    t["output.weight"] = mat(n_vocab, e)
    for i in range(_N_LAYER):
        p = f"blk.{i}"
        t[f"{p}.attn_norm.weight"] = ones()
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            t[f"{p}.{name}.weight"] = mat(e, e)
        t[f"{p}.ffn_norm.weight"] = ones()
        t[f"{p}.ffn_gate.weight"] = mat(ff, e)
        t[f"{p}.ffn_up.weight"] = mat(ff, e)
        t[f"{p}.ffn_down.weight"] = mat(e, ff)
    return t


# --------------------------------------------------------------------------------------------
# A Hugging Face checkpoint directory (for the converter and directory sources)


def write_tiny_bert_checkpoint(
    model_dir: str | os.PathLike[str],
    *,
    classifier: bool = False,
    pooling: str | None = "mean",
    tokenizer_json: bool = True,
    seed: int = 3,
) -> Path:
    """Write a tiny HF BERT checkpoint: config.json, model.safetensors, vocab.txt and friends.

    Args:
        model_dir: Directory to create.
        classifier: Write a ``BertForSequenceClassification`` (pooler + one-label classifier).
        pooling: sentence-transformers pooling mode for ``modules.json`` (``"mean"``, ``"cls"``,
            ``"lasttoken"``, ``"max"``) or None for no modules.json.
        tokenizer_json: Also write a ``tokenizer.json`` like HF's fast BERT tokenizer does.
        seed: Seed of the random weights.
    """
    from safetensors.numpy import save_file

    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = _bert_vocab().tokens
    n_ctx = 64
    config: dict[str, object] = {
        "architectures": ["BertForSequenceClassification" if classifier else "BertModel"],
        "model_type": "bert",
        "hidden_size": TINY_N_EMBD,
        "intermediate_size": _N_FF,
        "num_attention_heads": _N_HEAD,
        "num_hidden_layers": _N_LAYER,
        "max_position_embeddings": n_ctx,
        "layer_norm_eps": 1e-12,
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
        "pad_token_id": 0,
    }
    if classifier:
        config["id2label"] = {"0": "LABEL_0"}
        config["label2id"] = {"LABEL_0": 0}
    tensors = _bert_tensors(_rng(seed), len(vocab), n_ctx, classifier=classifier)
    if classifier:
        # HF keeps the head outside the "bert." prefix.
        for name in ("classifier.weight", "classifier.bias"):
            tensors[name] = tensors.pop(f"bert.{name}")
    save_file(tensors, str(out / "model.safetensors"))
    _write_json(out / "config.json", config)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    _write_json(
        out / "tokenizer_config.json",
        {
            "do_lower_case": True,
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "mask_token": "[MASK]",
            "tokenizer_class": "BertTokenizer",
        },
    )
    if tokenizer_json:
        _write_json(out / "tokenizer.json", _tokenizer_json(vocab))
    if pooling is not None:
        _write_modules(out, pooling)
    return out


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _tokenizer_json(vocab: list[str]) -> dict[str, object]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    cls_ = {"SpecialToken": {"id": "[CLS]", "type_id": 0}}
    sep0 = {"SpecialToken": {"id": "[SEP]", "type_id": 0}}
    sep1 = {"SpecialToken": {"id": "[SEP]", "type_id": 1}}
    return {
        "added_tokens": [
            {"id": vocab.index(t), "content": t, "special": True, "normalized": False}
            for t in specials
        ],
        "normalizer": {"type": "BertNormalizer", "lowercase": True, "strip_accents": None},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [cls_, {"Sequence": {"id": "A", "type_id": 0}}, sep0],
            "pair": [
                cls_,
                {"Sequence": {"id": "A", "type_id": 0}},
                sep0,
                {"Sequence": {"id": "B", "type_id": 1}},
                sep1,
            ],
        },
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "vocab": {t: i for i, t in enumerate(vocab)},
        },
    }


def _write_modules(out: Path, pooling: str) -> None:
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
        ],
    )
    (out / "1_Pooling").mkdir(exist_ok=True)
    chosen = {"mean": "mean_tokens", "cls": "cls_token", "max": "max_tokens"}.get(pooling, pooling)
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "lasttoken")
    flags = {f"pooling_mode_{m}": m == chosen for m in modes}
    _write_json(
        out / "1_Pooling" / "config.json", {"word_embedding_dimension": TINY_N_EMBD, **flags}
    )


# --------------------------------------------------------------------------------------------
# Quantised copies (what most people download)

#: llama_ftype values of the quantised types the engine is tested with.
QUANT_TYPES = {"Q8_0": 7, "Q4_0": 2, "Q4_K": 15}  # Q4_K: LLAMA_FTYPE_MOSTLY_Q4_K_M


def write_quantized(
    source: str | os.PathLike[str], path: str | os.PathLike[str], qtype: str
) -> Path:
    """Quantise a GGUF with llama.cpp's own ``llama_model_quantize``.

    Tensors whose rows are not a whole number of the type's blocks (32 values for Q8_0/Q4_0,
    256 for Q4_K) are kept in a type llama.cpp picks; write the source with ``n_embd`` and
    ``n_ff`` multiples of 256 to have every matrix in the K type.
    """
    import llama_cpp.llama_cpp as ll

    params = ll.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[qtype]
    params.nthread = 1
    status = ll.llama_model_quantize(
        os.fspath(source).encode(), os.fspath(path).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed ({status}) for {qtype}")
    return Path(path)


# --------------------------------------------------------------------------------------------
# Crafted and damaged files (what llama.cpp asserts on)

#: Broken variants of a tiny BERT: case -> (the key the error must name, what is changed).
CRAFTED_CASES: dict[str, tuple[str, dict[str, object]]] = {
    "repeated_token": ("tokenizer.ggml.tokens", {"repeat_token": 40}),
    "pooling_out_of_range": ("bert.pooling_type", {"bert.pooling_type": (9, "uint32")}),
    "block_count_zero": ("bert.block_count", {"bert.block_count": (0, "uint32")}),
    "block_count_huge": ("bert.block_count", {"bert.block_count": (100_000, "uint32")}),
    "eps_nan": (
        "bert.attention.layer_norm_epsilon",
        {"bert.attention.layer_norm_epsilon": (float("nan"), "float32")},
    ),
    "eps_inf": (
        "bert.attention.layer_norm_epsilon",
        {"bert.attention.layer_norm_epsilon": (float("inf"), "float32")},
    ),
    "eps_negative": (
        "bert.attention.layer_norm_epsilon",
        {"bert.attention.layer_norm_epsilon": (-1e-5, "float32")},
    ),
    "eps_wrong_type": (
        "bert.attention.layer_norm_epsilon",
        {"bert.attention.layer_norm_epsilon": ("tiny", "string")},
    ),
    "context_length_zero": ("bert.context_length", {"bert.context_length": (0, "uint32")}),
    "no_architecture": ("general.architecture", {"general.architecture": None}),
    "truncated": ("truncated", {"truncate": 0.6}),
}


def write_crafted(
    source: str | os.PathLike[str], path: str | os.PathLike[str], changes: dict[str, object]
) -> Path:
    """Copy an f32 GGUF with metadata changed, as a crafted or damaged download would be.

    ``changes`` maps a key to ``(value, gguf type name)`` (or None to drop the key), plus:
    ``repeat_token``: give token N the text of token N + 1; ``truncate``: keep that fraction
    of the file's bytes; ``nan_tensor``: fill the named tensor with NaN; ``vocab_size``: keep
    only the first N tokens (and token embedding rows).
    """
    changes = dict(changes)
    out = Path(path)
    if "truncate" in changes:
        data = Path(source).read_bytes()
        out.write_bytes(data[: int(len(data) * float(changes["truncate"]))])  # type: ignore[arg-type]
        return out
    reader = gguf.GGUFReader(source)
    arch = str(reader.get_field("general.architecture").contents())  # type: ignore[union-attr]
    writer = gguf.GGUFWriter(path=None, arch=arch)
    if "general.architecture" in changes:  # the writer always writes it: take it out
        writer.kv_data[0].pop("general.architecture", None)
    repeat = changes.pop("repeat_token", None)
    nan_tensor = changes.pop("nan_tensor", None)
    vocab_size = changes.pop("vocab_size", None)
    per_token = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores")
    for field in reader.fields.values():
        name = field.name
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        if name in changes:
            continue
        value = field.contents()
        if name == "tokenizer.ggml.tokens" and repeat is not None:
            value = list(value)
            value[int(repeat)] = value[int(repeat) + 1]  # type: ignore[call-overload]
        if name in per_token and vocab_size is not None:
            value = list(value)[: int(vocab_size)]  # type: ignore[call-overload]
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, vtype, sub_type=sub_type)
    for key, change in changes.items():
        if change is None or key == "general.architecture":
            continue
        value, type_name = change  # type: ignore[misc]
        writer.add_key_value(key, value, gguf.GGUFValueType[type_name.upper()])
    for tensor in reader.tensors:
        data = np.asarray(tensor.data)
        shape = tuple(int(n) for n in reversed(tensor.shape))
        array = data.astype(np.float32).reshape(shape)
        if tensor.name == nan_tensor:
            array = np.full_like(array, np.nan)
        if tensor.name == "token_embd.weight" and vocab_size is not None:
            array = array[: int(vocab_size)]  # type: ignore[call-overload]
        writer.add_tensor(tensor.name, array)
    return write_gguf_atomically(writer, out)
