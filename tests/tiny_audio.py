"""A tiny audio projector (mmproj) GGUF that llama.cpp's mtmd loads, built on the spot.

It is an Ultravox-style projector (``clip.projector_type = "ultravox"``): a 2-block Whisper
encoder (two 1-D convolutions over 80 mel bins, the second with stride 2, then pre-norm
transformer blocks with learned positions), then Ultravox's projector: frames stacked in
groups of :data:`STACK_FACTOR`, RMS norm, a SwiGLU layer, RMS norm, a linear layer into the
32-wide text space of :func:`tests.tiny_models.write_tiny_llama`. The weights are seeded random
numbers, so its vectors mean nothing; it exists so that the audio path (samples, log-mel
spectrogram, encode, decode, pool) runs through llama.cpp exactly as a real model's does, here
and in a real ``llama-server --mmproj``.

Ultravox was chosen because it is the simplest Whisper-based projector mtmd supports (no extra
text around the clip, unlike qwen2a's ``<|audio_bos|>``), and its stacking keeps a clip short:
mtmd always cuts Whisper's log-mel spectrogram into 30 s windows of 3000 frames (a 1 s clip is
padded to one window), the convolutions halve that to 1500 positions and stacking by 50 leaves
:data:`TOKENS_PER_WINDOW` = 30 tokens, so up to three windows fit a 128-token context.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from embed_nb.convert import write_gguf_atomically

from .tiny_models import TINY_N_EMBD
from .tiny_vision import RandomWeights, projector_writer

__all__ = ["STACK_FACTOR", "TOKENS_PER_WINDOW", "write_tiny_audio_mmproj"]

#: Whisper's window: 30 s of 16 kHz audio is 3000 mel frames, 1500 after the convolutions.
_N_MEL = 80
_N_POS = 1500
_N_EMBD = 16  # encoder width
_N_FF = 32
_N_HEAD = 2
_N_LAYER = 2
_N_HIDDEN = 32  # the projector's SwiGLU width (its first layer gives twice this)
#: Encoder frames stacked into one token by the projector.
STACK_FACTOR = 50
#: The tokens one 30 s window of audio becomes.
TOKENS_PER_WINDOW = _N_POS // STACK_FACTOR


def write_tiny_audio_mmproj(
    path: str | os.PathLike[str], *, text_n_embd: int = TINY_N_EMBD, seed: int = 11
) -> Path:
    """Write the tiny audio projector; its output width must equal the text model's
    ``n_embd``."""
    weights = RandomWeights(seed)
    mat = weights.mat
    e = _N_EMBD
    w = projector_writer(
        "tiny-ultravox-mmproj",
        "audio",
        "ultravox",
        width=e,
        n_ff=_N_FF,
        n_layer=_N_LAYER,
        n_head=_N_HEAD,
        projection_dim=text_n_embd,
    )
    w.add_uint32("clip.audio.num_mel_bins", _N_MEL)
    w.add_uint32("clip.audio.projector.stack_factor", STACK_FACTOR)
    tensors: dict[str, np.ndarray] = {
        # numpy shapes are ggml's ne reversed: a kernel is [out, in, width], and a conv bias is
        # [out, 1] so that it broadcasts over the frames.
        "a.conv1d.1.weight": mat(e, _N_MEL, 3, std=0.05),
        "a.conv1d.1.bias": mat(e, 1, std=0.02),
        "a.conv1d.2.weight": mat(e, e, 3, std=0.1),
        "a.conv1d.2.bias": mat(e, 1, std=0.02),
        "a.position_embd.weight": mat(_N_POS, e, std=0.05),
        **weights.norm("a.post_ln", e),
        "mm.a.norm_pre.weight": 1.0 + mat(e * STACK_FACTOR, std=0.02),
        "mm.a.mlp.1.weight": mat(2 * _N_HIDDEN, e * STACK_FACTOR, std=0.05),
        "mm.a.norm_mid.weight": 1.0 + mat(_N_HIDDEN, std=0.02),
        "mm.a.mlp.2.weight": mat(text_n_embd, _N_HIDDEN),
        **weights.encoder_blocks("a", _N_LAYER, e, _N_FF, key_bias=False),
    }
    for name, array in tensors.items():
        w.add_tensor(name, array)
    return write_gguf_atomically(w, path)
