"""What the engine does with the load options a user leaves unset: one table per device.

On a CPU the engine's own measurements decide (bench/throughput.py): small decodes, since a
packed decode's all-pairs attention grows with the square of its size and a CPU has no
spare compute for it; one single-threaded context per core, since small matrix products
spend much of their time at the barrier between threads; and a weight copy the CPU
multiplies fast (f32, or bf16 for ``precision="fast"``).

On a GPU (any layer offloaded) the defaults follow llama.cpp's own ``llama-server``: one
context, large decodes (its ``--batch-size`` is 2048), the model file's own weights, and
flash attention ``auto`` left for llama.cpp to decide (it enables it where the GPU backend
supports it) for every model. Measured on no GPU here: ``scripts/gpu_check.py`` compares
these defaults with explicit alternatives on a machine that has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .options import MAX_CONTEXTS

__all__ = ["CPU_DEFAULTS", "GPU_DEFAULTS", "EngineDefaults", "engine_defaults"]


@dataclass(frozen=True)
class EngineDefaults:
    """The values unset options take, on one kind of device."""

    #: Tokens per decode (``batch_tokens``); never more than ``n_ubatch``, itself <= ``n_ctx``.
    batch_tokens: int
    #: Contexts sharing a large call's decodes (``n_contexts``): one per thread, up to this.
    max_contexts: int
    #: Load the CPU weight copy of :mod:`.weight_copy` (``upcast=None``).
    copy_weights: bool
    #: What ``flash_attn="auto"`` becomes for a decoder (a model with a KV cache): "off", or
    #: "auto" for llama.cpp to decide.
    decoder_flash_attn: str


CPU_DEFAULTS = EngineDefaults(
    batch_tokens=256,  # the sweep in bench/throughput.py
    max_contexts=MAX_CONTEXTS,
    copy_weights=True,
    # Flash attention on the CPU makes a decoder's vector for a text depend on what else
    # shares its decode. Encoders stay within f16 rounding with it, and run twice as fast.
    decoder_flash_attn="off",
)

GPU_DEFAULTS = EngineDefaults(
    batch_tokens=2048,
    max_contexts=1,
    copy_weights=False,
    decoder_flash_attn="auto",
)


def engine_defaults(*, offloaded: bool) -> EngineDefaults:
    """The defaults for a load that offloads layers to a GPU (``offloaded``) or not."""
    return GPU_DEFAULTS if offloaded else CPU_DEFAULTS
