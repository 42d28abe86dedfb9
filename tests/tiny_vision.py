"""A tiny vision projector (mmproj) GGUF that llama.cpp's mtmd loads, built on the spot.

It is a LLaVA-style projector (``clip.projector_type = "mlp"``): a 3-block CLIP ViT over
32×32 images cut into 8×8 patches, then a two-layer MLP into the 32-wide text space of
:func:`tests.tiny_models.write_tiny_llama`. The weights are seeded random numbers, so its
vectors mean nothing; it exists so that the multimodal path (marker, bitmap, encode, decode,
pool) runs through llama.cpp exactly as a real model's does, here and in a real
``llama-server --mmproj``. LLaVA's projector was chosen because it is the simplest one mtmd
supports with a plain llama decoder (gemma3's needs the gemma3 text architecture too).
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np

from embed_nb.convert import write_gguf_atomically

from .tiny_models import TINY_N_EMBD

__all__ = ["TINY_IMAGE_SIZE", "write_tiny_mmproj"]

#: The side of the square image the projector sees (mtmd resizes every image to it).
TINY_IMAGE_SIZE = 32
_PATCH = 8
_N_EMBD = 32  # vision width
_N_FF = 64
_N_HEAD = 4
# LLaVA takes the second-to-last block's output, so three blocks run two of them.
_N_LAYER = 3
_N_HIDDEN = 48  # the MLP projector's hidden width


def write_tiny_mmproj(
    path: str | os.PathLike[str], *, text_n_embd: int = TINY_N_EMBD, seed: int = 7
) -> Path:
    """Write the tiny projector; its output width must equal the text model's ``n_embd``."""
    rng = np.random.default_rng(seed)
    e, n_pos = _N_EMBD, (TINY_IMAGE_SIZE // _PATCH) ** 2 + 1  # patches and the class token

    def mat(*shape: int, std: float = 0.2) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    w = gguf.GGUFWriter(path=None, arch="clip")
    w.add_type(gguf.GGUFType.MMPROJ)
    w.add_name("tiny-llava-mmproj")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.use_gelu", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_uint32("clip.vision.image_size", TINY_IMAGE_SIZE)
    w.add_uint32("clip.vision.patch_size", _PATCH)
    w.add_uint32("clip.vision.embedding_length", e)
    w.add_uint32("clip.vision.feed_forward_length", _N_FF)
    w.add_uint32("clip.vision.block_count", _N_LAYER)
    w.add_uint32("clip.vision.projection_dim", text_n_embd)
    w.add_uint32("clip.vision.attention.head_count", _N_HEAD)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": 1.0 + mat(e, std=0.02), f"{prefix}.bias": mat(e, std=0.02)}

    tensors: dict[str, np.ndarray] = {
        # numpy shapes are ggml's ne reversed: the conv kernel is [n_embd, 3, patch, patch].
        "v.patch_embd.weight": mat(e, 3, _PATCH, _PATCH, std=0.05),
        "v.class_embd": mat(e),
        "v.position_embd.weight": mat(n_pos, e, std=0.05),
        **norm("v.pre_ln"),
        "mm.0.weight": mat(_N_HIDDEN, e),
        "mm.0.bias": mat(_N_HIDDEN, std=0.02),
        "mm.2.weight": mat(text_n_embd, _N_HIDDEN),
        "mm.2.bias": mat(text_n_embd, std=0.02),
    }
    for i in range(_N_LAYER):
        block = f"v.blk.{i}"
        tensors.update(norm(f"{block}.ln1"))
        tensors.update(norm(f"{block}.ln2"))
        for part in ("attn_q", "attn_k", "attn_v", "attn_out"):
            tensors[f"{block}.{part}.weight"] = mat(e, e)
            tensors[f"{block}.{part}.bias"] = mat(e, std=0.02)
        tensors[f"{block}.ffn_up.weight"] = mat(_N_FF, e)
        tensors[f"{block}.ffn_up.bias"] = mat(_N_FF, std=0.02)
        tensors[f"{block}.ffn_down.weight"] = mat(e, _N_FF)
        tensors[f"{block}.ffn_down.bias"] = mat(e, std=0.02)
    for name, array in tensors.items():
        w.add_tensor(name, array)
    return write_gguf_atomically(w, path)
