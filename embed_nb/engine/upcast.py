"""The f32 copy of an f16/bf16 GGUF for the CPU, by its older name.

The copies themselves (f32 for ``precision="exact"``, bf16 for ``"fast"``) are made by
:mod:`embed_nb.engine.weight_copy`; this name stays for the benchmarks and tests that ask
for the f32 copy the engine loads (bench/remote.py serves it to llama-server).
"""

from __future__ import annotations

from pathlib import Path

from .weight_copy import SOURCE_FILE_TYPE_KEY, TENSOR_ALIGNMENT, weight_copy

__all__ = ["SOURCE_FILE_TYPE_KEY", "TENSOR_ALIGNMENT", "upcast_target"]


def upcast_target(path: Path, fingerprint: str) -> Path | None:
    """The f32 copy to load instead of ``path``, made on first use; None when not worth it."""
    return weight_copy(path, fingerprint, "f32").path
