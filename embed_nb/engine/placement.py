"""Where a model runs: the GPU layers asked of llama.cpp, and the honest report of what it did.

``n_gpu_layers`` in Model.info is the number of layers llama.cpp actually put on a GPU (0 on
a CPU-only build, whatever was asked), ``devices`` the GPUs it used or else the CPU, and
``backend`` the name of their ggml backend ("CUDA", "Metal", "Vulkan", "CPU").

Asking for GPU layers of a build that cannot offload warns once per process, in one line,
and the model loads on the CPU.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..warn import warn
from . import native

__all__ = ["CpuOnlyBuildWarning", "Placement", "gpu_layers_to_ask", "placement"]

GPU_BUILD_HINT = (
    "For a GPU build: make setup GPU=cuda (or metal, vulkan), or "
    'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python'
)

_warned = False
_warned_lock = threading.Lock()


class CpuOnlyBuildWarning(UserWarning):
    """GPU layers were asked for, but this llama.cpp build cannot offload: the CPU runs them."""


@dataclass(frozen=True)
class Placement:
    """Where a loaded model runs, as Model.info reports it."""

    backend: str
    devices: list[str]
    n_gpu_layers: int


def gpu_layers_to_ask(requested: int | None, gpu_build: bool) -> int:
    """``llama_model_params.n_gpu_layers`` for a load: every layer (-1) on a GPU build unless
    the user said otherwise, none on a CPU-only build (warning if the user asked for some)."""
    if not gpu_build:
        if requested:  # neither None (the default) nor 0
            _warn_cpu_only(requested)
        return 0
    return -1 if requested is None else requested


def _warn_cpu_only(requested: int) -> None:
    global _warned
    with _warned_lock:
        if _warned:
            return
        _warned = True
    asked = "every layer" if requested < 0 else f"{requested} layer(s)"
    warn(
        f"embed_nb: n_gpu_layers asks for {asked} on a GPU, but this llama.cpp build has no GPU "
        f"it can offload to (CPU-only, or no GPU visible); the model runs on the CPU. "
        + GPU_BUILD_HINT,
        CpuOnlyBuildWarning,
    )


def placement(model: Any, asked: int, logged: int | None) -> Placement:
    """What a finished load did with ``asked`` GPU layers.

    Args:
        model: the llama_model pointer.
        asked: the ``n_gpu_layers`` the load passed (see :func:`gpu_layers_to_ask`).
        logged: the count in llama.cpp's "offloaded X/Y layers to GPU" log line, if any
            (:func:`native.take_offloaded_layers`).
    """
    gpus = [d for d in native.devices() if d.gpu]
    layers = 0 if not asked or not gpus else _offloaded(model, asked, logged)
    if layers == 0:
        cpu = [d.description for d in native.devices() if d.backend == "CPU"]
        return Placement("CPU", cpu[:1], 0)
    backends = dict.fromkeys(d.backend for d in gpus)  # in order, once each
    return Placement(", ".join(backends), [d.description for d in gpus], layers)


def _offloaded(model: Any, asked: int, logged: int | None) -> int:
    # llama.cpp's log line is its own count, made where it assigns layers to devices: it is
    # what happened. Its rule, repeated here only for a build whose log says nothing, is
    # that the output layer counts as one more layer, and -1 (or too many) means all.
    if logged is not None:
        return logged
    n_layer = max(0, native.lib().llama_model_n_layer(model)) + 1
    return n_layer if asked < 0 else min(asked, n_layer)
