"""Checks of a GGUF file's structure and metadata, made before llama.cpp sees the file.

llama.cpp trusts much of what a GGUF says: a repeated vocabulary token, a ``pooling_type``
outside its enum, a ``block_count`` of 0 or a NaN norm epsilon each reach a ``GGML_ASSERT``
that aborts the whole process (the notebook's kernel). This module reads the header, the
metadata and the tensor table with its own small bounds-checked reader (the file is mapped,
nothing is loaded) and refuses, with a :class:`ModelLoadError` that names the key, anything
llama.cpp is known to assert on. It cannot know every assert of every architecture: what
passes here is then loaded once in a child process (see :mod:`.probe`).

What is checked, with the llama.cpp code that asserts or misreads (0.3.36's vendored tree):
- the header: magic, version 2 or 3, counts that fit the file (gguf.cpp);
- value types and array lengths, every string inside the file;
- tensors: 1 to 4 dimensions each >= 1 (llama-model-loader.cpp asserts ``ne >= 1``), a known
  type whose block divides the first dimension, aligned offsets, data inside the file, unique
  names shorter than GGML_MAX_NAME;
- ``{arch}.block_count`` in 1..512 (llama-model.cpp: ``n_layer_all > 0 && <= LLAMA_MAX_LAYERS``),
  the expert counts and ``nextn_predict_layers`` against it;
- ``{arch}.pooling_type`` and ``classifier.pooling_type`` in 0..4 (llama-graph.cpp aborts
  "unknown pooling type");
- every ``*epsilon`` key finite and >= 0 (ggml-cpu ops.cpp: ``GGML_ASSERT(eps >= 0.0f)`` at the
  first decode), rope frequencies and scales finite;
- ``rope.scaling.type`` one of none/linear/yarn/longrope (llama-model.cpp asserts);
- ``context_length`` and ``embedding_length`` >= 1, head counts per layer;
- ``tokenizer.ggml.tokens`` a non-empty list of distinct strings (llama-vocab.cpp asserts
  ``id_to_token.size() == token_to_id.size()``), scores and token types as long as it.
"""

from __future__ import annotations

import itertools
import math
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from ..pooling import POOLING_RANGE  # llama_pooling_type NONE..RANK

GGUF_MAGIC = b"GGUF"
GGML_MAX_DIMS = 4
GGML_MAX_NAME = 64
LLAMA_MAX_LAYERS = 512
LLAMA_MAX_EXPERTS = 1024
ROPE_SCALING_TYPES = {"none", "linear", "yarn", "longrope"}
DEFAULT_ALIGNMENT = 32

# gguf_type: (struct format, size) for the fixed-size ones.
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
T_STRING, T_ARRAY = 8, 9
_INTEGER_TYPES = {0, 1, 2, 3, 4, 5, 10, 11}
_FLOAT_TYPES = {6, 12}
_TYPE_NAMES = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
    7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64",
}  # fmt: skip
# Arrays whose values are needed (the rest are skipped over, only their bounds checked).
_READ_ARRAYS_SUFFIXES = (
    "tokenizer.ggml.tokens",
    ".feed_forward_length",
    ".attention.head_count",
    ".attention.head_count_kv",
    ".expert_used_count",
)


@dataclass
class Value:
    """A metadata value: its gguf type, and for an array the element type and count."""

    type: int
    value: Any = None
    item_type: int | None = None
    count: int = 0


@dataclass
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    type: int
    offset: int


@dataclass
class GGUFSummary:
    """What the checks read: metadata by key and the tensor table."""

    version: int
    metadata: dict[str, Value] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_start: int = 0


def check_gguf(path: Path) -> GGUFSummary:
    """Read and check ``path``; raise :class:`ModelLoadError` naming what is wrong."""
    summary = read_gguf(path)
    _check_metadata(path, summary)
    return summary


def read_gguf(path: Path) -> GGUFSummary:
    """Read ``path``'s header, metadata and tensor table, checking only the file's structure
    (for GGUFs that are not text models, such as a multimodal projector)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                _fail(path, f"is {size} bytes, too short for a GGUF header")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                summary = _Reader(mm, path).read()
    except OSError as error:
        raise ModelLoadError(f"cannot read model file {os.fspath(path)!r}: {error}") from None
    return summary


def _fail(path: Path, message: str) -> None:
    raise ModelLoadError(f"{os.fspath(path)!r} is not a valid GGUF model: {message}")


class _Reader:
    def __init__(self, mm: mmap.mmap, path: Path) -> None:
        self.mm = mm
        self.size = len(mm)
        self.pos = 0
        self.path = path
        self.where = "the header"

    def fail(self, message: str) -> None:
        _fail(self.path, message)

    def take(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > self.size:
            self.fail(f"{self.where} runs past the end of the file (truncated or damaged)")
        self.pos = start + n
        return start

    def unpack(self, fmt: str, n: int) -> Any:
        return struct.unpack_from(fmt, self.mm, self.take(n))[0]

    def string(self) -> bytes:
        n = self.unpack("<Q", 8)
        start = self.take(n)
        return self.mm[start : start + n]

    def text(self) -> str:
        raw = self.string()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{self.where} holds a string that is not UTF-8")
            raise  # unreachable: fail() raises

    def read(self) -> GGUFSummary:
        if self.mm[:4] != GGUF_MAGIC:
            self.fail("it does not start with the GGUF magic bytes")
        self.pos = 4
        version = self.unpack("<I", 4)
        if version not in (2, 3):
            self.fail(f"GGUF version {version} is not supported (llama.cpp reads 2 and 3)")
        n_tensors = self.unpack("<Q", 8)
        n_kv = self.unpack("<Q", 8)
        # The smallest key-value pair is 13 bytes and the smallest tensor entry 28.
        if n_kv * 13 > self.size or n_tensors * 28 > self.size:
            self.fail(f"the header claims {n_kv} keys and {n_tensors} tensors; the file is smaller")
        summary = GGUFSummary(version)
        for i in range(n_kv):
            self.where = f"metadata entry {i}"
            key = self.text()
            self.where = f"key {key!r}"
            if key in summary.metadata:
                self.fail(f"key {key!r} appears twice")
            summary.metadata[key] = self.value(key)
        for i in range(n_tensors):
            self.where = f"tensor entry {i}"
            summary.tensors.append(self.tensor())
        alignment = DEFAULT_ALIGNMENT
        align = summary.metadata.get("general.alignment")
        if align is not None:
            if align.type not in _INTEGER_TYPES or not _is_power_of_two(align.value):
                self.fail("key 'general.alignment' must be a power-of-two integer")
            alignment = int(align.value)
        summary.data_start = -(-self.pos // alignment) * alignment
        self._check_tensors(summary, alignment)
        return summary

    def value(self, key: str) -> Value:
        vtype = self.unpack("<I", 4)
        if vtype in _SCALARS:
            fmt, n = _SCALARS[vtype]
            return Value(vtype, self.unpack(fmt, n))
        if vtype == T_STRING:
            return Value(vtype, self.text())
        if vtype != T_ARRAY:
            self.fail(f"key {key!r} has unknown value type {vtype}")
        item_type = self.unpack("<I", 4)
        count = self.unpack("<Q", 8)
        keep = key.endswith(_READ_ARRAYS_SUFFIXES)
        if item_type in _SCALARS:
            fmt, n = _SCALARS[item_type]
            start = self.take(count * n)
            items = None
            if keep:
                items = [v[0] for v in struct.iter_unpack(fmt, self.mm[start : start + count * n])]
            return Value(T_ARRAY, items, item_type, count)
        if item_type == T_STRING:
            if count * 8 > self.size:
                self.fail(f"key {key!r} claims {count} strings; the file is smaller")
            strings = [self.string() for _ in range(count)]
            return Value(T_ARRAY, strings if keep else None, item_type, count)
        self.fail(f"key {key!r} is an array of {_TYPE_NAMES.get(item_type, item_type)}")
        raise AssertionError  # unreachable

    def tensor(self) -> TensorInfo:
        name = self.text()
        self.where = f"tensor {name!r}"
        if len(name.encode()) >= GGML_MAX_NAME:
            self.fail(f"tensor name {name[:80]!r} is longer than {GGML_MAX_NAME - 1} bytes")
        n_dims = self.unpack("<I", 4)
        if not 1 <= n_dims <= GGML_MAX_DIMS:
            self.fail(f"tensor {name!r} has {n_dims} dimensions (1 to {GGML_MAX_DIMS} allowed)")
        dims = tuple(self.unpack("<Q", 8) for _ in range(n_dims))
        ttype = self.unpack("<I", 4)
        offset = self.unpack("<Q", 8)
        return TensorInfo(name, dims, ttype, offset)

    def _check_tensors(self, summary: GGUFSummary, alignment: int) -> None:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        known = {int(t): GGML_QUANT_SIZES[t] for t in GGMLQuantizationType if t in GGML_QUANT_SIZES}
        seen: set[str] = set()
        spans = []
        for t in summary.tensors:
            if t.name in seen:
                self.fail(f"tensor {t.name!r} appears twice")
            seen.add(t.name)
            if any(d < 1 or d >= 1 << 62 for d in t.dims):
                self.fail(f"tensor {t.name!r} has shape {list(t.dims)}; dimensions must be >= 1")
            if t.type not in known:
                self.fail(f"tensor {t.name!r} has unknown type {t.type}")
            block, type_size = known[t.type]
            if t.dims[0] % block:
                self.fail(
                    f"tensor {t.name!r}: its first dimension {t.dims[0]} is not a multiple of "
                    f"the block size {block} of its type"
                )
            n_bytes = math.prod(t.dims) // block * type_size
            if t.offset % alignment:
                self.fail(f"tensor {t.name!r} has data offset {t.offset}, not {alignment}-aligned")
            start = summary.data_start + t.offset
            if start + n_bytes > self.size:
                self.fail(
                    f"tensor {t.name!r} needs bytes {start}..{start + n_bytes} but the file has "
                    f"{self.size} (truncated or damaged)"
                )
            spans.append((start, start + n_bytes, t.name))
        spans.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                self.fail(f"tensors {first!r} and {second!r} overlap in the file")


def _is_power_of_two(value: object) -> bool:
    return isinstance(value, int) and value > 0 and value & (value - 1) == 0


# --- metadata --------------------------------------------------------------------------------


def _check_metadata(path: Path, summary: GGUFSummary) -> None:
    meta = summary.metadata

    def bad(key: str, why: str) -> None:
        _fail(path, f"key {key!r} {why}")

    arch_value = meta.get("general.architecture")
    if arch_value is None or arch_value.type != T_STRING or not arch_value.value:
        bad("general.architecture", "is missing or not a string")
    arch = str(arch_value.value) if arch_value else ""

    def integer(key: str, *, required: bool = False, low: int = 0, high: int = 2**31 - 1) -> int:
        value = meta.get(key)
        if value is None:
            if required:
                bad(key, "is missing")
            return low
        if value.type not in _INTEGER_TYPES:
            bad(key, f"must be an integer, not {_TYPE_NAMES.get(value.type, value.type)}")
        if not low <= value.value <= high:
            bad(key, f"is {value.value}, outside {low}..{high}")
        return int(value.value)

    def per_layer(key: str, n_layer: int, low: int = 0) -> list[int]:
        """A count given once, or once per layer (llama.cpp's get_key_or_arr)."""
        value = meta.get(key)
        if value is None:
            return []
        if value.type == T_ARRAY:
            if value.item_type not in _INTEGER_TYPES or value.count != n_layer:
                bad(key, f"must be an integer or {n_layer} integers (one per layer)")
            items = [int(v) for v in value.value or []]
            if any(not low <= v <= 2**31 - 1 for v in items):
                bad(key, f"holds a value outside {low}..{2**31 - 1}")
            return items
        return [integer(key, low=low)] * n_layer

    n_layer = integer(f"{arch}.block_count", required=True, low=1, high=LLAMA_MAX_LAYERS)
    integer(f"{arch}.context_length", required=True, low=1)
    integer(f"{arch}.embedding_length", required=True, low=1)
    integer(f"{arch}.embedding_length_out", low=1)
    integer(f"{arch}.nextn_predict_layers", high=n_layer)
    n_expert = integer(f"{arch}.expert_count", high=LLAMA_MAX_EXPERTS)
    used = per_layer(f"{arch}.expert_used_count", n_layer)
    if any(u > n_expert for u in used) or (n_expert > 0 and used and max(used) == 0):
        bad(f"{arch}.expert_used_count", f"must be 1..{n_expert} (expert_count)")
    groups = integer(f"{arch}.expert_group_count", high=max(n_expert - 1, 0))
    if groups > 1 and n_expert % groups:
        bad(f"{arch}.expert_group_count", f"must divide expert_count ({n_expert})")
    integer(f"{arch}.expert_group_used_count", high=max(groups - 1, 0) if groups > 1 else 0)
    per_layer(f"{arch}.feed_forward_length", n_layer)
    heads = per_layer(f"{arch}.attention.head_count", n_layer)
    heads_kv = per_layer(f"{arch}.attention.head_count_kv", n_layer)
    for n_head, n_kv in zip(heads, heads_kv, strict=False):
        if n_kv > n_head or (n_kv and n_head % n_kv):
            bad(f"{arch}.attention.head_count_kv", f"({n_kv}) must divide head_count ({n_head})")
    for key in (f"{arch}.pooling_type", f"{arch}.classifier.pooling_type"):
        if key in meta:
            integer(key, low=POOLING_RANGE.start, high=POOLING_RANGE.stop - 1)
    for key, value in meta.items():
        if key.endswith(("epsilon", "_eps")) and value.type != T_ARRAY:
            _check_float(path, key, value, low=0.0)
        elif key.startswith(f"{arch}.rope.") and value.type in _FLOAT_TYPES:
            _check_float(path, key, value, low=None)
    scaling = meta.get(f"{arch}.rope.scaling.type")
    if scaling is not None and (
        scaling.type != T_STRING or scaling.value not in ROPE_SCALING_TYPES
    ):
        bad(f"{arch}.rope.scaling.type", f"must be one of {', '.join(sorted(ROPE_SCALING_TYPES))}")
    _check_vocab(path, meta)


def _check_float(path: Path, key: str, value: Value, low: float | None) -> None:
    if value.type not in _FLOAT_TYPES:
        _fail(path, f"key {key!r} must be a float, not {_TYPE_NAMES.get(value.type, value.type)}")
    number = float(value.value)
    if not math.isfinite(number) or (low is not None and number < low):
        need = "a finite number" + (f" >= {low:g}" if low is not None else "")
        _fail(path, f"key {key!r} is {number!r}; it must be {need}")


def _check_vocab(path: Path, meta: dict[str, Value]) -> None:
    tokens = meta.get("tokenizer.ggml.tokens")
    if tokens is None:
        return  # llama.cpp refuses a model without one cleanly, or it needs none
    if tokens.type != T_ARRAY or tokens.item_type != T_STRING or tokens.count == 0:
        _fail(path, "key 'tokenizer.ggml.tokens' must be a non-empty list of strings")
    if tokens.count > 2**31 - 1:
        _fail(path, "key 'tokenizer.ggml.tokens' holds more tokens than llama.cpp can index")
    items: list[bytes] = tokens.value
    if len(set(items)) != len(items):
        seen: set[bytes] = set()
        for i, token in enumerate(items):
            if token in seen:
                text = token.decode("utf-8", "replace")
                _fail(path, f"key 'tokenizer.ggml.tokens' repeats the token {text!r} (id {i})")
            seen.add(token)
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        value = meta.get(key)
        if value is not None and (value.type != T_ARRAY or value.count < tokens.count):
            _fail(path, f"key {key!r} must be a list as long as the vocabulary ({tokens.count})")
