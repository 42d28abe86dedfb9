"""Convert a Hugging Face BERT-family checkpoint to GGUF, with numpy only (no torch).

The output follows what llama.cpp's own ``convert_hf_to_gguf.py`` writes for ``BertModel``
(architecture ``bert``, WordPiece vocabulary as tokenizer model ``bert`` with the phantom-space
``▁`` prefix, the same special token ids and add-bos/eos/sep flags, norms, biases and position /
token-type embeddings kept in f32), so llama.cpp loads it and tokenises exactly like it.

Two deliberate differences from llama.cpp's converter, both for sequence classifiers
(``BertForSequenceClassification`` rerankers):

* ``bert.pooler.dense`` is kept as llama.cpp's ``cls`` tensor. llama.cpp's converter drops it,
  so its GGUFs score ``classifier(h_cls)`` instead of ``classifier(tanh(pooler(h_cls)))`` and the
  scores come out on a different scale from the checkpoint's own. Pass ``keep_pooler=False`` to
  reproduce llama.cpp's converter.
* ``bert.pooling_type`` is written as RANK, so the GGUF is a reranker without extra flags.

The GGUF writing itself lives in :func:`write_bert_gguf` (and the atomic file handling in
:func:`write_gguf_atomically`), so tests can build tiny models from random weights with the very
same code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np

from embed_nb.errors import InvalidInputError, ModelLoadError, ModelNotFoundError

__all__ = [
    "CONVERTER_VERSION",
    "POOLING_TYPES",
    "BertHParams",
    "BertVocab",
    "convert_checkpoint",
    "read_bert_vocab",
    "read_checkpoint_pooling",
    "write_bert_gguf",
    "write_gguf_atomically",
]

#: Bump when the bytes written for the same checkpoint change, so caches keyed on it go stale.
CONVERTER_VERSION = 1

OutType = Literal["f16", "f32"]

#: llama.cpp's ``enum llama_pooling_type`` values, as stored in ``<arch>.pooling_type``.
POOLING_TYPES: dict[str, int] = {"none": 0, "mean": 1, "cls": 2, "last": 3, "rank": 4}

# gguf TokenType values (llama.cpp's llama_token_type).
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED = 1, 2, 3, 4, 5

_ARCH = "bert"

# HF names (after dropping the "bert." prefix) -> llama.cpp names, for the non-layer tensors.
_GLOBAL_TENSORS: dict[str, str] = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.LayerNorm": "token_embd_norm",
    "pooler.dense": "cls",
    "classifier": "cls.output",
}

# HF per-layer module names -> llama.cpp per-layer names.
_LAYER_TENSORS: dict[str, str] = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}

_LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")

# Tensors an embedding model never uses; llama.cpp's converter drops them too.
_SKIPPED_PREFIXES = ("cls.predictions", "cls.seq_relationship")
_SKIPPED_NAMES = frozenset({"embeddings.position_ids"})

# Matrices llama.cpp keeps in f32 whatever the output type (besides all 1-D tensors and norms).
_ALWAYS_F32 = frozenset({"position_embd.weight", "token_types.weight"})


@dataclass(frozen=True)
class BertHParams:
    """The shape of a BERT encoder, as llama.cpp needs it.

    Attributes:
        n_layer: Number of transformer blocks.
        n_embd: Hidden size.
        n_ff: Feed-forward (intermediate) size.
        n_head: Attention heads.
        n_ctx: Trained context length (``max_position_embeddings``).
        layer_norm_eps: LayerNorm epsilon.
        type_vocab_size: Rows of the token-type embedding (2 for BERT, 1 for some models).
    """

    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_ctx: int
    layer_norm_eps: float = 1e-12
    type_vocab_size: int = 2

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BertHParams:
        """Read the hyper-parameters from a HF ``config.json`` dict."""
        try:
            return cls(
                n_layer=int(config["num_hidden_layers"]),
                n_embd=int(config["hidden_size"]),
                n_ff=int(config["intermediate_size"]),
                n_head=int(config["num_attention_heads"]),
                n_ctx=int(config["max_position_embeddings"]),
                layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
                type_vocab_size=int(config.get("type_vocab_size", 1)),
            )
        except KeyError as exc:
            raise ModelLoadError(
                f"config.json lacks {exc.args[0]!r}; is this a BERT-family checkpoint?"
            ) from None


@dataclass(frozen=True)
class BertVocab:
    """A WordPiece vocabulary in HF form (``"##ing"`` for continuations, ``"[CLS]"`` etc.).

    Attributes:
        tokens: Token strings by id, exactly as in ``vocab.txt``.
        token_types: gguf token type per id (1 normal, 3 control, 4 user-defined, 5 unused).
        special_ids: llama.cpp special token ids by kind: ``bos``, ``eos``, ``unk``, ``sep``,
            ``pad``, ``cls``, ``mask``.
        add_bos: Whether a tokeniser adds BOS (``[CLS]``) in front.
        add_eos: Whether it adds EOS (``[SEP]``) at the end.
        add_sep: Whether a pair gets an extra separator between its two texts.
        lowercase: BertNormalizer ``lowercase``; None leaves llama.cpp's default (True).
        strip_accents: BertNormalizer ``strip_accents``; None follows ``lowercase``.
    """

    tokens: list[str]
    token_types: list[int]
    special_ids: dict[str, int] = field(default_factory=dict)
    add_bos: bool = True
    add_eos: bool = True
    add_sep: bool = False
    lowercase: bool | None = None
    strip_accents: bool | None = None

    @classmethod
    def from_tokens(cls, tokens: Sequence[str], *, lowercase: bool | None = True) -> BertVocab:
        """Build a vocabulary from a plain token list with the usual BERT special tokens.

        ``[PAD] [UNK] [CLS] [SEP] [MASK]`` become control tokens and everything else normal,
        as llama.cpp's converter marks HF's special added tokens. BOS is ``[CLS]``, EOS and SEP
        are ``[SEP]``.
        """
        tokens = list(tokens)
        index = {tok: i for i, tok in enumerate(tokens)}
        specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
        types = [_CONTROL if tok in specials else _NORMAL for tok in tokens]
        ids = _bert_special_ids(index, {})
        return cls(tokens, types, ids, lowercase=lowercase)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.token_types):
            raise InvalidInputError("tokens and token_types differ in length")


# --------------------------------------------------------------------------------------------
# Writing


def write_gguf_atomically(writer: gguf.GGUFWriter, out_path: str | os.PathLike[str]) -> Path:
    """Write a filled, not yet opened ``GGUFWriter`` to ``out_path`` atomically.

    The file is written to a temporary name in the same directory, fsynced, and moved into place
    with ``os.replace``, so an interrupted write never leaves a truncated GGUF behind, and a
    reader sees the old file or the new one, whole.

    Args:
        writer: A writer created with ``path=None`` that holds all metadata and tensors.
        out_path: Where the GGUF should end up.

    Returns:
        The final path.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _atomic_target(out) as tmp:
            writer.write_header_to_file(path=tmp)
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
    except BaseException:
        # The writer's file handle is still open after a failed write; the temp is gone.
        with contextlib.suppress(Exception):
            writer.close()
        raise
    return out


#: A temp file this old was left by a writer that was killed (SIGKILL, power loss).
_ABANDONED_AFTER_S = 24 * 3600.0


@contextlib.contextmanager
def _atomic_target(out: Path) -> Iterator[Path]:
    """Yield a temp path beside ``out``; on success fsync it and move it over ``out``."""
    _remove_abandoned_temps(out.parent)
    tmp = _create_temp_beside(out)
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, out)
    except BaseException:
        # KeyboardInterrupt too: never leave the half-written file behind. A failing unlink
        # must not hide the error that brought us here.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(out.parent)


def _remove_abandoned_temps(folder: Path) -> None:
    """Delete temp files of killed writers (a day old: no live write takes that long)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for stale in folder.glob(".*.partial"):
            with contextlib.suppress(OSError):
                if now - stale.stat().st_mtime > _ABANDONED_AFTER_S:
                    stale.unlink()


def _create_temp_beside(out: Path) -> Path:
    """Create an empty, uniquely named file next to ``out`` with umask-respecting permissions."""
    # mkstemp would make the final file 0600; a model file should be as readable as any other.
    while True:
        tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    with contextlib.suppress(OSError):
        _fsync_path(path)


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


def _rename_tensors(
    tensors: Mapping[str, np.ndarray], n_layer: int, *, keep_pooler: bool
) -> dict[str, np.ndarray]:
    """Map HF tensor names to llama.cpp names, dropping what an encoder does not use."""
    has_classifier = any(_strip(n).startswith("classifier.") for n in tensors)
    out: dict[str, np.ndarray] = {}
    for hf_name, array in tensors.items():
        name = _strip(hf_name)
        if name in _SKIPPED_NAMES or name.startswith(_SKIPPED_PREFIXES):
            continue
        if name.startswith("pooler.") and not (has_classifier and keep_pooler):
            continue  # only a classification head runs the pooler
        new = _gguf_name(name, n_layer)
        if new is None:
            raise ModelLoadError(f"unexpected tensor {hf_name!r}; is this a BERT checkpoint?")
        out[new] = array
    return out


def _strip(name: str) -> str:
    name = name.removeprefix("bert.")
    if name.endswith(".gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith(".beta"):
        name = name[: -len("beta")] + "bias"
    return name


def _gguf_name(name: str, n_layer: int) -> str | None:
    module, _, suffix = name.rpartition(".")
    if suffix not in ("weight", "bias"):
        return None
    if module in _GLOBAL_TENSORS:
        return f"{_GLOBAL_TENSORS[module]}.{suffix}"
    match = _LAYER_RE.match(name)
    if match is None or int(match[1]) >= n_layer or match[2] not in _LAYER_TENSORS:
        return None
    return f"blk.{int(match[1])}.{_LAYER_TENSORS[match[2]]}.{suffix}"


def _cast(gguf_name: str, array: np.ndarray, outtype: OutType) -> np.ndarray:
    """Pick f16/f32 per tensor the way llama.cpp's converter does."""
    keep_f32 = (
        outtype == "f32"
        or array.ndim <= 1
        or gguf_name.endswith("_norm.weight")
        or not gguf_name.endswith(".weight")
        or gguf_name in _ALWAYS_F32
    )
    dtype = np.float32 if keep_f32 else np.float16
    return np.ascontiguousarray(array, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Reading a checkpoint


def convert_checkpoint(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    outtype: OutType = "f16",
    pooling: str | None = None,
    keep_pooler: bool = True,
) -> Path:
    """Convert a HF BERT-family checkpoint directory to a GGUF file.

    Reads ``config.json``, ``model.safetensors`` (or sharded safetensors), the tokenizer
    (``tokenizer.json`` / ``tokenizer_config.json`` / ``vocab.txt``) and the sentence-transformers
    pooling config (``modules.json`` -> ``*_Pooling/config.json``).

    Args:
        model_dir: The checkpoint directory.
        out_path: The GGUF to write (atomically).
        outtype: ``"f16"`` (default) or ``"f32"``.
        pooling: Override the pooling type; by default RANK for a sequence classifier, else the
            sentence-transformers pooling mode, else none written (as llama.cpp's converter).
        keep_pooler: For sequence classifiers, keep ``pooler.dense`` so scores match the
            checkpoint (see the module docstring); False reproduces llama.cpp's converter.

    Returns:
        The path written.

    Raises:
        ModelNotFoundError: ``model_dir`` is not a directory with a ``config.json``.
        ModelLoadError: The checkpoint is not a BERT model in safetensors form.
    """
    model_dir = Path(model_dir)
    config = _read_config(model_dir)
    hparams = BertHParams.from_config(config)
    vocab = read_bert_vocab(model_dir, config)
    tensors = _load_safetensors(model_dir)
    is_classifier = any(_strip(n).startswith("classifier.") for n in tensors)
    if pooling is None:
        pooling = "rank" if is_classifier else read_checkpoint_pooling(model_dir)
    labels = _classifier_labels(config, tensors) if is_classifier else None
    return write_bert_gguf(
        out_path,
        hparams,
        tensors,
        vocab,
        pooling=pooling,
        outtype=outtype,
        name=_model_name(config, model_dir),
        classifier_labels=labels,
        keep_pooler=keep_pooler,
    )


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_config(model_dir: Path) -> dict[str, Any]:
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(f"{model_dir} has no config.json; expected a HF checkpoint")
    config: dict[str, Any] = _read_json(config_path)
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise ModelLoadError(
            f"model_type {model_type!r} is not supported; only BERT checkpoints convert"
        )
    return config


def _model_name(config: Mapping[str, Any], model_dir: Path) -> str:
    source = str(config.get("_name_or_path") or "")
    # A checkpoint's directory name is more telling than its base model's name.
    return model_dir.name if model_dir.name not in ("", "model") else (source or "bert")


def read_checkpoint_pooling(model_dir: str | os.PathLike[str]) -> str | None:
    """The sentence-transformers pooling mode of a checkpoint, as a :data:`POOLING_TYPES` key.

    Returns None when the checkpoint has no ``modules.json`` Pooling module.

    Raises:
        ModelLoadError: The pooling mode is not one llama.cpp implements (e.g. max pooling).
    """
    model_dir = Path(model_dir)
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        return None
    pooling_dir = next(
        (m["path"] for m in _read_json(modules_path) if str(m.get("type", "")).endswith("Pooling")),
        None,
    )
    if pooling_dir is None:
        return None
    cfg = _read_json(model_dir / pooling_dir / "config.json")
    # Same precedence as llama.cpp's converter: mean, then cls, then last token.
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_lasttoken"):
        return "last"
    mode = {"mean": "mean", "cls": "cls", "lasttoken": "last"}.get(str(cfg.get("pooling_mode")))
    if mode is None:
        raise ModelLoadError(f"{pooling_dir}/config.json: only mean, cls and last pooling work")
    return mode


def _classifier_labels(config: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> list[str]:
    n_out = next(a.shape[0] for n, a in tensors.items() if _strip(n) == "classifier.weight")
    id2label = config.get("id2label") or {}
    return [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(n_out)]


def _load_safetensors(model_dir: Path) -> dict[str, np.ndarray]:
    files = sorted(model_dir.glob("model*.safetensors"))
    if not files:
        raise ModelLoadError(
            f"{model_dir} has no model.safetensors; only safetensors checkpoints convert"
        )
    tensors: dict[str, np.ndarray] = {}
    for path in files:
        tensors.update(_read_safetensors_file(path))
    return tensors


def _read_safetensors_file(path: Path) -> dict[str, np.ndarray]:
    """Read every tensor as float32 numpy; bf16 (which numpy lacks) is widened by hand."""
    from safetensors import safe_open

    header = _safetensors_header(path)
    out: dict[str, np.ndarray] = {}
    with safe_open(str(path), framework="np") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a Mapping
            if header.get(name, {}).get("dtype") == "BF16":
                out[name] = _read_bf16(path, header, name)
            else:
                out[name] = np.asarray(f.get_tensor(name), dtype=np.float32)
    return out


def _safetensors_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header: dict[str, Any] = json.loads(f.read(size))
    header["__offset__"] = 8 + size
    return header


def _read_bf16(path: Path, header: Mapping[str, Any], name: str) -> np.ndarray:
    start, end = header[name]["data_offsets"]
    raw = np.fromfile(
        path, dtype="<u2", count=(end - start) // 2, offset=header["__offset__"] + start
    )
    # bf16 is the top half of an f32.
    widened = raw.astype(np.uint32) << 16
    return widened.view(np.float32).reshape(header[name]["shape"])


def read_bert_vocab(model_dir: str | os.PathLike[str], config: Mapping[str, Any]) -> BertVocab:
    """Read a WordPiece vocabulary and its special tokens the way llama.cpp's converter does.

    Tokens come from ``tokenizer.json`` (else ``vocab.txt``), padded up to ``vocab_size`` with
    unused ``[PADn]`` entries. Added special tokens are control tokens. BOS is the ``cls_token``
    and EOS the ``sep_token`` unless ``bos_token`` / ``eos_token`` are set.
    """
    model_dir = Path(model_dir)
    tok_json = _read_optional_json(model_dir / "tokenizer.json")
    tok_config = _read_optional_json(model_dir / "tokenizer_config.json")
    vocab_map = _wordpiece_map(model_dir, tok_json)
    added = {t["content"]: t for t in tok_json.get("added_tokens", [])}

    n_vocab = max(int(config.get("vocab_size", 0)), max(vocab_map.values()) + 1)
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    types = [_UNUSED] * n_vocab
    for token, token_id in vocab_map.items():
        tokens[token_id] = token
        types[token_id] = _NORMAL
    for token, entry in added.items():
        token_id = int(entry["id"])
        tokens[token_id] = token
        types[token_id] = _CONTROL if entry.get("special") else _USER_DEFINED
    if not added:
        # A bare vocab.txt: mark the special tokens named in the config as control tokens.
        for token in _configured_specials(tok_config).values():
            if token in vocab_map:
                types[vocab_map[token]] = _CONTROL

    index = {tok: i for i, tok in enumerate(tokens)}
    lowercase, strip_accents = _normalizer_flags(tok_json, tok_config)
    add_bos, add_eos, add_sep = _add_special_flags(tok_json)
    return BertVocab(
        tokens=tokens,
        token_types=types,
        special_ids=_bert_special_ids(index, _configured_specials(tok_config), config),
        add_bos=add_bos,
        add_eos=add_eos,
        add_sep=add_sep,
        lowercase=lowercase,
        strip_accents=strip_accents,
    )


def _read_optional_json(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.is_file() else {}


def _wordpiece_map(model_dir: Path, tok_json: Mapping[str, Any]) -> dict[str, int]:
    model = tok_json.get("model") or {}
    if model:
        if model.get("type") != "WordPiece":
            raise ModelLoadError(f"tokenizer type {model.get('type')!r}: only WordPiece converts")
        return {str(t): int(i) for t, i in model["vocab"].items()}
    vocab_txt = model_dir / "vocab.txt"
    if not vocab_txt.is_file():
        raise ModelLoadError(f"{model_dir} has neither tokenizer.json nor vocab.txt")
    with open(vocab_txt, encoding="utf-8") as f:
        # Keep the first id of a duplicated line, as HF's BertTokenizer does.
        result: dict[str, int] = {}
        for i, line in enumerate(f):
            result.setdefault(line.rstrip("\n"), i)
        return result


def _configured_specials(tok_config: Mapping[str, Any]) -> dict[str, str]:
    """Special token strings by kind from tokenizer_config.json (BERT defaults otherwise)."""
    found = {
        "unk": "[UNK]",
        "sep": "[SEP]",
        "pad": "[PAD]",
        "cls": "[CLS]",
        "mask": "[MASK]",
    }
    for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        entry = tok_config.get(f"{kind}_token")
        if isinstance(entry, dict):
            entry = entry.get("content")
        if isinstance(entry, str):
            found[kind] = entry
    # BERT has no BOS/EOS of its own: llama.cpp's converter uses CLS and SEP for them.
    found.setdefault("bos", found["cls"])
    found.setdefault("eos", found["sep"])
    return found


def _bert_special_ids(
    index: Mapping[str, int], specials: Mapping[str, str], config: Mapping[str, Any] | None = None
) -> dict[str, int]:
    specials = {**_configured_specials({}), **specials}
    ids: dict[str, int] = {}
    for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        if specials[kind] in index:
            ids[kind] = index[specials[kind]]
        elif config is not None and isinstance(config.get(f"{kind}_token_id"), int):
            ids[kind] = int(config[f"{kind}_token_id"])
    return ids


def _normalizer_flags(
    tok_json: Mapping[str, Any], tok_config: Mapping[str, Any]
) -> tuple[bool | None, bool | None]:
    norm = tok_json.get("normalizer") or {}
    if norm.get("type") == "BertNormalizer":
        lowercase = norm.get("lowercase")
        strip = norm.get("strip_accents")
    else:
        lowercase = tok_config.get("do_lower_case")
        strip = tok_config.get("strip_accents")
    return (
        lowercase if isinstance(lowercase, bool) else None,
        strip if isinstance(strip, bool) else None,
    )


def _add_special_flags(tok_json: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(add_bos, add_eos, add_sep) as llama.cpp's converter derives them from the template.

    BERT's ``[CLS] A [SEP] B [SEP]`` gives bos and eos but no extra sep; RoBERTa-style
    ``<s> A </s></s> B </s>`` gives all three. Without a template, BERT's flags are assumed.
    """
    post = tok_json.get("post_processor") or {}
    if post.get("type") == "RobertaProcessing":
        return True, True, True
    if post.get("type") != "TemplateProcessing":
        return True, True, False
    single = [_template_item(x) for x in post.get("single", [])]
    pair = [_template_item(x) for x in post.get("pair", [])]
    add_bos = len(single) > 1 and not single[0].startswith("$")
    add_eos = len(single) > 1 and not single[-1].startswith("$")
    # Count special tokens between the two sequences: two means an extra separator.
    try:
        between = pair[pair.index("$A") + 1 : pair.index("$B")]
    except ValueError:
        between = []
    return add_bos, add_eos, len(between) >= 2


def _template_item(item: Mapping[str, Any]) -> str:
    if "Sequence" in item:
        return "$" + str(item["Sequence"].get("id", ""))
    return str(item.get("SpecialToken", {}).get("id", ""))
