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

__all__ = ["TINY_IMAGE_SIZE", "RandomWeights", "projector_writer", "write_tiny_mmproj"]

#: The side of the square image the projector sees (mtmd resizes every image to it).
TINY_IMAGE_SIZE = 32
_PATCH = 8
_N_EMBD = 32  # vision width
_N_FF = 64
_N_HEAD = 4
# LLaVA takes the second-to-last block's output, so three blocks run two of them.
_N_LAYER = 3
_N_HIDDEN = 48  # the MLP projector's hidden width


class RandomWeights:
    """Seeded random tensors of small spread, so activations stay tame."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def mat(self, *shape: int, std: float = 0.2) -> np.ndarray:
        return self._rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(self, prefix: str, width: int) -> dict[str, np.ndarray]:
        """A layer norm near the identity."""
        return {
            f"{prefix}.weight": 1.0 + self.mat(width, std=0.02),
            f"{prefix}.bias": self.mat(width, std=0.02),
        }

    def encoder_blocks(
        self, prefix: str, n_layer: int, width: int, n_ff: int, *, key_bias: bool = True
    ) -> dict[str, np.ndarray]:
        """Pre-norm transformer blocks in clip's naming (``{prefix}.blk.{i}.attn_q`` ...)."""
        tensors: dict[str, np.ndarray] = {}
        for i in range(n_layer):
            block = f"{prefix}.blk.{i}"
            tensors.update(self.norm(f"{block}.ln1", width))
            tensors.update(self.norm(f"{block}.ln2", width))
            for part in ("attn_q", "attn_k", "attn_v", "attn_out"):
                tensors[f"{block}.{part}.weight"] = self.mat(width, width)
                if key_bias or part != "attn_k":  # Whisper's key projection has no bias
                    tensors[f"{block}.{part}.bias"] = self.mat(width, std=0.02)
            tensors[f"{block}.ffn_up.weight"] = self.mat(n_ff, width)
            tensors[f"{block}.ffn_up.bias"] = self.mat(n_ff, std=0.02)
            tensors[f"{block}.ffn_down.weight"] = self.mat(width, n_ff)
            tensors[f"{block}.ffn_down.bias"] = self.mat(width, std=0.02)
        return tensors


def projector_writer(
    name: str,
    modality: str,
    projector_type: str,
    *,
    width: int,
    n_ff: int,
    n_layer: int,
    n_head: int,
    projection_dim: int,
) -> gguf.GGUFWriter:
    """A projector GGUF's writer with the keys every clip encoder reads (``modality``:
    ``vision`` or ``audio``)."""
    w = gguf.GGUFWriter(path=None, arch="clip")
    w.add_type(gguf.GGUFType.MMPROJ)
    w.add_name(name)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_bool(f"clip.has_{modality}_encoder", True)
    w.add_string("clip.projector_type", projector_type)
    w.add_uint32(f"clip.{modality}.embedding_length", width)
    w.add_uint32(f"clip.{modality}.feed_forward_length", n_ff)
    w.add_uint32(f"clip.{modality}.block_count", n_layer)
    w.add_uint32(f"clip.{modality}.projection_dim", projection_dim)
    w.add_uint32(f"clip.{modality}.attention.head_count", n_head)
    w.add_float32(f"clip.{modality}.attention.layer_norm_epsilon", 1e-5)
    return w


def write_tiny_mmproj(
    path: str | os.PathLike[str], *, text_n_embd: int = TINY_N_EMBD, seed: int = 7
) -> Path:
    """Write the tiny projector; its output width must equal the text model's ``n_embd``."""
    weights = RandomWeights(seed)
    mat = weights.mat
    e, n_pos = _N_EMBD, (TINY_IMAGE_SIZE // _PATCH) ** 2 + 1  # patches and the class token
    w = projector_writer(
        "tiny-llava-mmproj",
        "vision",
        "mlp",
        width=e,
        n_ff=_N_FF,
        n_layer=_N_LAYER,
        n_head=_N_HEAD,
        projection_dim=text_n_embd,
    )
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", TINY_IMAGE_SIZE)
    w.add_uint32("clip.vision.patch_size", _PATCH)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    tensors: dict[str, np.ndarray] = {
        # numpy shapes are ggml's ne reversed: the conv kernel is [n_embd, 3, patch, patch].
        "v.patch_embd.weight": mat(e, 3, _PATCH, _PATCH, std=0.05),
        "v.class_embd": mat(e),
        "v.position_embd.weight": mat(n_pos, e, std=0.05),
        **weights.norm("v.pre_ln", e),
        "mm.0.weight": mat(_N_HIDDEN, e),
        "mm.0.bias": mat(_N_HIDDEN, std=0.02),
        "mm.2.weight": mat(text_n_embd, _N_HIDDEN),
        "mm.2.bias": mat(text_n_embd, std=0.02),
        **weights.encoder_blocks("v", _N_LAYER, e, _N_FF),
    }
    for name, array in tensors.items():
        w.add_tensor(name, array)
    return write_gguf_atomically(w, path)
