"""A copy of a GGUF's weights in the type the CPU multiplies best: f32 or bf16.

ggml's CPU matrix product on f16 weights converts every weight to f32 inside its inner loop
(and the activations to f16 first). For a small embedding model on a CPU:

- f32 weights are closer to the checkpoint and were faster on the Xeon this was first measured
  on (about 1.25x for all-MiniLM-L6-v2; on a Zen 4 the f16 file runs about 10% faster, see
  docs/performance.md): the ``exact`` precision's copy of an f16/bf16 file.
- bf16 weight matrices are faster still on a CPU with bf16 dot products (AVX512_BF16: about
  1.6x the f32 copy for MiniLM on a Zen 4, min cosine 0.99997 to it): the ``fast`` precision's
  copy of an f16/bf16/f32 file. Only 2-D weight matrices become bf16; the embedding tables
  (rows looked up, never multiplied: bf16 would only lose precision) and 1-D tensors (norms,
  biases) are f32, as in the f32 copy.

Quantised files are left as they are. A copy is made once, atomically, into the cache and
reused. The cache is shared by every environment, so an older copy is deleted only when
nobody has used it for a week (see :mod:`embed_nb.paths`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..paths import cache_dir, mark_used, prune_unused

__all__ = [
    "COPY_TYPES",
    "SOURCE_FILE_TYPE_KEY",
    "TENSOR_ALIGNMENT",
    "CopyName",
    "WeightCopy",
    "copy_tensor_type",
    "weight_copy",
]

CopyName = Literal["f32", "bf16"]

# Tensor types a copy is made from; any other (a quantised block type) leaves the file alone.
SOURCE_TYPES = {"F16", "BF16", "F32"}
# Looked up by row, never multiplied: kept f32 in every copy.
EMBEDDING_TABLES = {"token_embd.weight", "position_embd.weight", "token_types.weight"}
# Past this many bytes of copied weights the memory cost outweighs the speed.
MAX_COPY_BYTES = 1 << 30
# The original ``general.file_type``, kept in the copy so Model.info can name it. (The key's
# name predates bf16 copies; f32 copies made earlier carry it, so it stays.)
SOURCE_FILE_TYPE_KEY = "embed_nb.upcast.source_file_type"
TENSOR_ALIGNMENT = 64
ALIGNMENT_KEY = "general.alignment"
# v3: copies carry SOURCE_FILE_TYPE_KEY and 64-byte aligned tensors (v2's were 32).
FORMAT_VERSION = 3


@dataclass(frozen=True)
class CopyType:
    """One kind of copy: what its weight matrices become and what the file declares."""

    name: CopyName  # in the copy's file name and in the model's fingerprint
    matrix_type: str  # the ggml type of 2-D weight matrices
    file_type: int  # the ``general.file_type`` (llama_ftype) the copy declares
    itemsize: int  # bytes per matrix element


COPY_TYPES: dict[str, CopyType] = {
    "f32": CopyType("f32", "F32", 0, 4),  # LLAMA_FTYPE_ALL_F32
    "bf16": CopyType("bf16", "BF16", 32, 2),  # LLAMA_FTYPE_MOSTLY_BF16
}


@dataclass(frozen=True)
class WeightCopy:
    """The copy to load (``path``), or None and why there is none (``reason``)."""

    path: Path | None
    reason: str = ""


def weight_copy(path: Path, fingerprint: str, copy: CopyName) -> WeightCopy:
    """The ``copy`` ("f32" or "bf16") of ``path`` to load instead of it, made on first use.

    ``fingerprint`` is the file's content fingerprint: copies of other contents never collide.
    The path is None when no copy is worth making (the reason says why): quantised weights,
    weights already of the copy's types, too large, or no writable cache.
    """
    import gguf

    kind = COPY_TYPES[copy]
    try:
        folder = cache_dir() / "upcast"
    except OSError:
        return WeightCopy(None, "no usable cache directory")
    target = folder / f"{path.stem}-{fingerprint}-{kind.name}.v{FORMAT_VERSION}.gguf"
    if target.is_file():  # made on an earlier load: no need to parse the model again
        mark_used(target)  # keeps it from being pruned while this process loads it
        return WeightCopy(target)
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, KeyError, IndexError):
        # Not a GGUF this reader understands: llama.cpp will say what is wrong.
        return WeightCopy(None, "the gguf reader cannot read the file")
    types = {t.tensor_type.name for t in reader.tensors}
    if not types <= SOURCE_TYPES:
        quantised = ", ".join(sorted(types - SOURCE_TYPES))
        return WeightCopy(None, f"{quantised} weights load as they are")
    wanted = [copy_tensor_type(t.name, len(t.shape), kind) for t in reader.tensors]
    if all(t.tensor_type.name == w for t, w in zip(reader.tensors, wanted, strict=True)):
        return WeightCopy(None, f"the weights are {kind.name} already")
    size = sum(
        int(t.n_elements) * (4 if w == "F32" else kind.itemsize)
        for t, w in zip(reader.tensors, wanted, strict=True)
    )
    if size > MAX_COPY_BYTES:
        return WeightCopy(None, f"a {kind.name} copy would take over {MAX_COPY_BYTES >> 30} GiB")
    try:
        _write_copy(reader, target, kind)
    except OSError as error:  # a full disk or a read-only cache: the copy is an optimisation
        return WeightCopy(None, f"the copy could not be written ({error.strerror or error})")
    _remove_older_copies(path, target, kind)
    return WeightCopy(target)


def copy_tensor_type(name: str, n_dims: int, kind: CopyType) -> str:
    """The ggml type a tensor gets in a copy: weight matrices the copy's, all else F32."""
    matrix = n_dims >= 2 and name not in EMBEDDING_TABLES
    return kind.matrix_type if matrix else "F32"


def _remove_older_copies(path: Path, current: Path, kind: CopyType) -> None:
    """Copies of earlier contents of the same file, or of earlier copy formats, are dead weight
    (90 MB each for MiniLM as f32) once nobody has used them for a week. A younger one may be
    what a kernel in another environment (another fingerprint scheme or copy format) is
    loading."""
    # <stem>-<hex digits of content>-<kind>[.vN].gguf: only this file's copies of this kind,
    # not those of another model whose name merely starts with the same stem.
    mine = re.compile(rf"{re.escape(path.stem)}-[0-9a-f]{{16,64}}-{kind.name}(\.v\d+)?\.gguf")
    prune_unused(
        (stale for stale in current.parent.iterdir() if mine.fullmatch(stale.name)), keep=current
    )


def _write_copy(reader: object, target: Path, kind: CopyType) -> None:
    import gguf

    from ..convert import write_gguf_atomically

    assert isinstance(reader, gguf.GGUFReader)
    arch = reader.get_field("general.architecture")
    writer = gguf.GGUFWriter(path=None, arch=arch.contents() if arch else "unknown")
    # Cache-line aligned weights: at GGUF's default 32 bytes, half the rows straddle two cache
    # lines under AVX-512 loads, and the engine embeds about 5% slower (measured, MiniLM).
    writer.add_custom_alignment(TENSOR_ALIGNMENT)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", ALIGNMENT_KEY):
            continue  # the header's own fields, written by the writer itself
        value = field.contents()
        if field.name == "general.file_type":
            writer.add_uint32(SOURCE_FILE_TYPE_KEY, int(value))
            value = kind.file_type
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    for tensor in reader.tensors:
        data = _as_f32(tensor)
        if copy_tensor_type(tensor.name, len(tensor.shape), kind) == "BF16":
            # Round to nearest even, NaN kept quiet: ggml's own f32 -> bf16 conversion.
            bf16 = gguf.GGMLQuantizationType.BF16
            writer.add_tensor(tensor.name, gguf.quants.quantize(data, bf16), raw_dtype=bf16)
        else:
            writer.add_tensor(tensor.name, data)
    write_gguf_atomically(writer, target)


def _as_f32(tensor: object) -> np.ndarray:
    import gguf

    assert isinstance(tensor, gguf.ReaderTensor)
    data = np.asarray(tensor.data)
    if tensor.tensor_type == gguf.GGMLQuantizationType.BF16:
        # bf16 is the top half of an f32: widen the bits.
        data = (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    shape = tuple(int(n) for n in reversed(tensor.shape))  # ggml lists dimensions innermost first
    return data.astype(np.float32).reshape(shape)
