"""Mapping a BERT checkpoint's tensors to llama.cpp's names and storage types."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from embed_nb.errors import ModelLoadError

from .bert import OutType

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
