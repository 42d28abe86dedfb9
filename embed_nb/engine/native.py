"""The thin layer over llama-cpp-python's ctypes bindings.

Everything that touches ``llama_cpp.llama_cpp`` directly lives here, so the rest of the
engine deals in numpy arrays and plain Python values. ``llama_cpp`` is imported on first use
to keep ``import embed_nb`` (and ``%load_ext``) fast.
"""

from __future__ import annotations

import ctypes
import re
import signal
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

_LOG_LOCK = threading.Lock()
_RECENT_ERRORS: deque[str] = deque(maxlen=20)
# llama.cpp's own count of the layers a load put on GPUs, from its log (see offloaded_layers).
_OFFLOADED_LINE = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_offloaded: list[int] = []
_log_callback: Any = None  # keeps the ctypes callback alive for the life of the process
_progress_callback: Any = None  # the same for the model-load progress callback
# Set by SIGINT while native work runs under deferred_interrupts(); read by the load callback.
_INTERRUPTED = threading.Event()

GGML_LOG_LEVEL_ERROR = 4


@cache
def lib() -> ModuleType:
    """Import the bindings, send llama.cpp's errors to :func:`take_recent_errors`, init."""
    import llama_cpp.llama_cpp as ll

    global _log_callback

    global _progress_callback

    def on_log(level: int, text: bytes | None, _user_data: Any) -> None:
        # llama.cpp logs a lot on load; keep only errors, to put their words into our exceptions.
        # Nothing here may raise: an exception in a ctypes callback is printed and lost.
        if level == GGML_LOG_LEVEL_ERROR and text:
            with _LOG_LOCK:
                _RECENT_ERRORS.append(text.decode("utf-8", "replace").strip())
        elif text and b"layers to GPU" in text:
            found = _OFFLOADED_LINE.search(text.decode("utf-8", "replace"))
            if found:
                with _LOG_LOCK:
                    _offloaded.append(int(found.group(1)))

    def on_progress(_progress: float, _user_data: Any) -> bool:
        return not _INTERRUPTED.is_set()  # False cancels the load: Ctrl-C lands mid-load

    _log_callback = ll.llama_log_callback(on_log)
    _progress_callback = ll.llama_progress_callback(on_progress)
    ll.llama_log_set(_log_callback, ctypes.c_void_p(0))
    ll.llama_backend_init()
    return ll


@cache
def mtmd_lib() -> ModuleType:
    """The bindings of libmtmd (images and audio), with its log sent where llama.cpp's goes:
    errors kept for our exceptions, the rest (a screenful per image) dropped."""
    import llama_cpp.mtmd_cpp as mt

    lib()  # makes the log callback
    mt.mtmd_helper_log_set(_log_callback, ctypes.c_void_p(0))
    return mt


def load_progress_callback() -> Any:
    """The ``llama_model_params.progress_callback`` that cancels a load on Ctrl-C."""
    lib()
    return _progress_callback


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run native work with Ctrl-C turned into a flag, then raise it once the work is done.

    Python runs a signal handler at the next bytecode of the main thread, and during a native
    call that is inside whichever ctypes callback llama.cpp calls next (its log callback, many
    times per load): the KeyboardInterrupt is raised there, printed as "Exception ignored on
    calling ctypes callback function" and lost. Here SIGINT only sets a flag: the load's
    progress callback returns False on it (llama.cpp cancels the load), and the interrupt is
    raised, by the handler that was installed before, when the block ends. The caller frees
    what it made on the way out, as for any exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; nothing to defer here
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN or SIG_DFL: Python raises nothing mid-callback
        yield
        return
    _INTERRUPTED.clear()
    signal.signal(signal.SIGINT, lambda _signum, _frame: _INTERRUPTED.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if _INTERRUPTED.is_set():
            _INTERRUPTED.clear()
            previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt


def take_offloaded_layers() -> int | None:
    """The layers llama.cpp said it offloaded to GPUs ("offloaded X/Y layers to GPU") since
    the last call, None when it said nothing (a CPU-only build logs no such line); clears it."""
    with _LOG_LOCK:
        count = _offloaded[-1] if _offloaded else None
        _offloaded.clear()
    return count


def take_recent_errors() -> str:
    """The error lines llama.cpp logged since the last call, joined; clears them."""
    with _LOG_LOCK:
        lines = [line for line in _RECENT_ERRORS if line]
        _RECENT_ERRORS.clear()
    return "; ".join(lines)


class Tokenizer:
    """``llama_tokenize`` with a reusable buffer. Not thread-safe: the model's lock guards it."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._buffer = (ctypes.c_int32 * 4096)()

    def __call__(self, data: bytes, *, add_special: bool, parse_special: bool) -> np.ndarray:
        ll = lib()
        # A token never spans less than one byte, plus the special tokens the vocab adds.
        needed = len(data) + 8
        if len(self._buffer) < needed:
            self._buffer = (ctypes.c_int32 * needed)()
        n = ll.llama_tokenize(
            self._vocab,
            data,
            len(data),
            self._buffer,
            len(self._buffer),
            add_special,
            parse_special,
        )
        if n < 0:  # the buffer was still too small: llama.cpp says how big it must be
            self._buffer = (ctypes.c_int32 * (-n))()
            n = ll.llama_tokenize(
                self._vocab, data, len(data), self._buffer, -n, add_special, parse_special
            )
        return np.ctypeslib.as_array(self._buffer)[: max(n, 0)].copy()


class TokenBatch:
    """A ``llama_batch`` whose arrays are numpy buffers we own, filled without Python loops.

    ``llama_batch_init`` would give C arrays that must be filled token by token from Python;
    owning the memory lets one decode of hundreds of tokens be set up with a few numpy calls.
    """

    def __init__(self, capacity: int) -> None:
        ll = lib()
        self.capacity = capacity
        self.token = np.zeros(capacity, dtype=np.int32)
        self.pos = np.zeros(capacity, dtype=np.int32)
        self.n_seq_id = np.ones(capacity, dtype=np.int32)
        self.seq_id = np.zeros(capacity, dtype=np.int32)
        self.output = np.ones(capacity, dtype=np.int8)
        # llama_batch.seq_id is an array of pointers, one per token, each to that token's seq ids.
        self._seq_id_ptrs = (
            self.seq_id.ctypes.data + self.seq_id.itemsize * np.arange(capacity, dtype=np.uint64)
        ).astype(np.uintp)
        self.struct = ll.llama_batch(
            n_tokens=0,
            token=self.token.ctypes.data_as(ctypes.POINTER(ll.llama_token)),
            embd=None,
            pos=self.pos.ctypes.data_as(ctypes.POINTER(ll.llama_pos)),
            n_seq_id=self.n_seq_id.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
            seq_id=ctypes.cast(
                self._seq_id_ptrs.ctypes.data, ctypes.POINTER(ctypes.POINTER(ll.llama_seq_id))
            ),
            logits=self.output.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)),
        )

    def fill(self, sequences: list[np.ndarray]) -> int:
        """Put sequences ``0..k-1`` into the batch, every token an output; return the count."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        n = int(lengths.sum())
        if n > self.capacity:
            raise ValueError(f"{n} tokens do not fit a batch of {self.capacity}")
        self.token[:n] = np.concatenate(sequences)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        self.pos[:n] = np.arange(n) - starts
        self.seq_id[:n] = np.repeat(np.arange(len(sequences), dtype=np.int32), lengths)
        self.struct.n_tokens = n
        return n


def read_floats(pointer: Any, count: int) -> np.ndarray:
    """Copy ``count`` floats from a ``float *`` that llama.cpp owns."""
    return np.ctypeslib.as_array(pointer, shape=(count,)).copy()


def meta_string(model: Any, key: str) -> str | None:
    """A GGUF metadata value as a string, or None when the key is absent."""
    ll = lib()
    buffer = ctypes.create_string_buffer(1024)
    n = ll.llama_model_meta_val_str(model, key.encode(), buffer, len(buffer))
    if n < 0:
        return None
    if n >= len(buffer):
        buffer = ctypes.create_string_buffer(n + 1)
        ll.llama_model_meta_val_str(model, key.encode(), buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace")


def model_description(model: Any) -> str:
    ll = lib()
    buffer = ctypes.create_string_buffer(256)
    ll.llama_model_desc(model, buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace")


# ggml_backend_dev_type: GGML_BACKEND_DEVICE_TYPE_CPU, _GPU, _IGPU (an integrated GPU using
# host memory), _ACCEL (BLAS, AMX: they help the CPU, llama.cpp puts no layers on them).
GPU_DEVICE_TYPES = {1, 2}
# Backend registry names as users know them (ggml-metal registers as "MTL" in newer builds).
BACKEND_NAMES = {"MTL": "Metal"}
# The CPU features of llama.cpp's system info that give bf16 dot products: AVX512_BF16 is the
# one this ggml prints; AMX_BF16 and ARM's BF16 are accepted should a build print them.
BF16_FEATURES = ("AVX512_BF16", "AMX_BF16", "BF16")


@dataclass(frozen=True)
class Device:
    """A device in ggml's backend registry."""

    backend: str  # the backend's name: "CPU", "CUDA", "Metal", "Vulkan"...
    description: str  # "NVIDIA H200", "AMD EPYC"...
    gpu: bool  # llama.cpp can offload layers to it


@cache
def devices() -> tuple[Device, ...]:
    """The devices ggml sees, in registry order (a CPU-only build has just the CPU)."""
    try:
        ggml = lib()._lib  # libllama re-exports ggml's backend registry symbols
        for name, restype, argtypes in (
            ("ggml_backend_dev_count", ctypes.c_size_t, []),
            ("ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t]),
            ("ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p]),
            ("ggml_backend_dev_type", ctypes.c_int, [ctypes.c_void_p]),
            ("ggml_backend_dev_backend_reg", ctypes.c_void_p, [ctypes.c_void_p]),
            ("ggml_backend_reg_name", ctypes.c_char_p, [ctypes.c_void_p]),
        ):
            function = getattr(ggml, name)
            function.restype, function.argtypes = restype, argtypes
    except AttributeError:  # a build that does not export the registry
        return ()
    found = []
    for i in range(ggml.ggml_backend_dev_count()):
        device = ggml.ggml_backend_dev_get(i)
        backend = _text(ggml.ggml_backend_reg_name(ggml.ggml_backend_dev_backend_reg(device)))
        found.append(
            Device(
                backend=BACKEND_NAMES.get(backend, backend) or "unknown",
                description=_text(ggml.ggml_backend_dev_description(device)) or "unknown",
                gpu=ggml.ggml_backend_dev_type(device) in GPU_DEVICE_TYPES,
            )
        )
    return tuple(found)


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", "replace").strip()


def supports_gpu_offload() -> bool:
    """Whether llama.cpp can put layers on a GPU: a GPU build that sees a GPU."""
    return bool(lib().llama_supports_gpu_offload())


@cache
def cpu_has_bf16() -> bool:
    """Whether llama.cpp's CPU backend has bf16 dot products (its system info says so)."""
    info = lib().llama_print_system_info().decode("utf-8", "replace")
    features = dict(re.findall(r"([A-Z0-9_]+) = (\w+)", info))
    return any(features.get(name) == "1" for name in BF16_FEATURES)
