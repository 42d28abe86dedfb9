"""An f32 copy of an f16/bf16 GGUF, for the CPU.

ggml's CPU matrix product on f16 weights converts every weight to f32 inside its inner loop
(and the activations to f16 first). For a small embedding model on a CPU, f32 weights are
faster (about 1.25x for all-MiniLM-L6-v2 here) and closer to the checkpoint. The copy is made
once, atomically, into the cache and reused. The cache is shared by every environment, so an
older copy is deleted only when nobody has used it for a week (see :mod:`embed_nb.paths`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..paths import cache_dir, mark_used, prune_unused

UPCASTABLE = {"F16", "BF16"}
KEEP = {"F32"}
# Past this many bytes of f32 weights the memory cost outweighs the speed.
MAX_F32_BYTES = 1 << 30
# The original ``general.file_type``, kept in the copy so Model.info can name it.
SOURCE_FILE_TYPE_KEY = "embed_nb.upcast.source_file_type"
TENSOR_ALIGNMENT = 64
ALIGNMENT_KEY = "general.alignment"


def upcast_target(path: Path, fingerprint: str) -> Path | None:
    """The f32 copy to load instead of ``path``, made on first use; None when not worth it."""
    import gguf

    try:
        folder = cache_dir() / "upcast"
    except OSError:
        return None  # no usable cache directory: the original weights load as they are
    # v3: copies carry SOURCE_FILE_TYPE_KEY and 64-byte aligned tensors (v2's were 32).
    target = folder / f"{path.stem}-{fingerprint}-f32.v3.gguf"
    if target.is_file():  # made on an earlier load: no need to parse the model again
        mark_used(target)  # keeps it from being pruned while this process loads it
        return target
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, KeyError, IndexError):
        return None  # not a GGUF this reader understands: llama.cpp will say what is wrong
    types = {t.tensor_type.name for t in reader.tensors}
    if not types & UPCASTABLE or not types <= UPCASTABLE | KEEP:
        return None  # already f32, or quantised: leave it alone
    if 4 * sum(int(t.n_elements) for t in reader.tensors) > MAX_F32_BYTES:
        return None
    try:
        _write_f32_copy(reader, target)
    except OSError:
        return None  # a full disk or a read-only cache: the copy is only an optimisation
    _remove_older_copies(path, target)
    return target


def _remove_older_copies(path: Path, current: Path) -> None:
    """Copies of earlier contents of the same file, or of earlier copy formats, are dead weight
    (90 MB each for MiniLM) once nobody has used them for a week. A younger one may be what a
    kernel in another environment (another fingerprint scheme or copy format) is loading."""
    # <stem>-<hex digits of content>-f32[.vN].gguf: only this file's copies, not those of
    # another model whose name merely starts with the same stem.
    mine = re.compile(rf"{re.escape(path.stem)}-[0-9a-f]{{16,64}}-f32(\.v\d+)?\.gguf")
    prune_unused(
        (stale for stale in current.parent.iterdir() if mine.fullmatch(stale.name)), keep=current
    )


def _write_f32_copy(reader: object, target: Path) -> None:
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
            value = int(gguf.LlamaFileType.ALL_F32)
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, _as_f32(tensor))
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
