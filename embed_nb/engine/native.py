"""The thin layer over llama-cpp-python's ctypes bindings.

Everything that touches ``llama_cpp.llama_cpp`` directly lives here, so the rest of the
engine deals in numpy arrays and plain Python values. ``llama_cpp`` is imported on first use
to keep ``import embed_nb`` (and ``%load_ext``) fast.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

_LOG_LOCK = threading.Lock()
_RECENT_ERRORS: deque[str] = deque(maxlen=20)
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

    def on_progress(_progress: float, _user_data: Any) -> bool:
        return not _INTERRUPTED.is_set()  # False cancels the load: Ctrl-C lands mid-load

    _log_callback = ll.llama_log_callback(on_log)
    _progress_callback = ll.llama_progress_callback(on_progress)
    ll.llama_log_set(_log_callback, ctypes.c_void_p(0))
    ll.llama_backend_init()
    return ll


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


def offload_devices() -> list[str]:
    """Names of the accelerator devices ggml sees (empty on a CPU-only build)."""
    ll = lib()
    if not ll.llama_supports_gpu_offload():
        return []
    try:
        ggml = ll._lib  # libllama re-exports ggml's backend registry symbols
        ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        ggml.ggml_backend_dev_description.restype = ctypes.c_char_p
        ggml.ggml_backend_dev_description.argtypes = [ctypes.c_void_p]
        ggml.ggml_backend_dev_type.restype = ctypes.c_int
        ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    except AttributeError:
        return ["GPU"]
    names = []
    for i in range(ggml.ggml_backend_dev_count()):
        device = ggml.ggml_backend_dev_get(i)
        if ggml.ggml_backend_dev_type(device) != 0:  # 0 is GGML_BACKEND_DEVICE_TYPE_CPU
            names.append((ggml.ggml_backend_dev_description(device) or b"GPU").decode())
    return names
