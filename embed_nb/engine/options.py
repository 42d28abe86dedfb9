"""The load options of a local model, checked and bounded before llama.cpp sees them.

llama.cpp takes most of them as ``uint32_t`` or ``int32_t``: a larger Python int wraps in
ctypes (``n_ctx=2**32 + 8`` becomes 8, or a huge decoder KV cache that aborts). And each
context costs memory: ``n_threads=10**6`` used to make a million contexts. Every option is
checked for type and range here, with one-line :class:`InvalidInputError` messages; the
checks that need the model are where it is loaded: its training context in
:mod:`.model`, its KV cache and attention scratch in :mod:`.memory`.

:class:`LocalOptions` is what a user gives (one name per option, the form
``LocalModel(path, **options)``, ``load_model``, ``%embed_model load`` and ``embed-nb`` all
derive from); :class:`LoadOptions` is what the engine makes of it (threads counted, pooling
as llama.cpp's enum).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import InvalidInputError
from ..pooling import pooling_type
from .context import FLASH_ATTN_TYPES
from .precision import PRECISIONS

INT32_MAX = 2**31 - 1
# ggml's GGML_DEFAULT_N_THREADS cap is 512; more threads than cores only add barrier waits.
MAX_THREADS = 512
THREADS_PER_CORE = 4
# Each context holds its own compute buffers (about 33 MB for MiniLM); past a few dozen they
# only cost memory, since each already gets a share of the threads.
MAX_CONTEXTS = 32


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int | None
    n_gpu_layers: int | None
    n_threads: int
    n_threads_given: bool
    pooling: int  # llama_pooling_type; -1 takes the model's own
    flash_attn: str
    n_ubatch: int | None
    batch_tokens: int | None
    upcast: bool | None
    n_contexts: int | None
    precision: str


def _option(default: Any, doc: str) -> Any:
    """A dataclass field with its user-facing description (``load_model``'s docstring)."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class LocalOptions:
    """How to load a local GGUF model: each option checked when the value is made.

    ``LocalModel(path, n_ctx=512)`` is the same as
    ``LocalModel(path, **LocalOptions(n_ctx=512).kwargs())``.

    Raises:
        InvalidInputError: an option of the wrong type or out of its range (one line).
    """

    name: str | None = _option(None, "the display name (default: the file's stem)")
    n_ctx: int | None = _option(
        None, "context size in tokens (default: the model's training context)"
    )
    n_gpu_layers: int | None = _option(
        None, "layers to offload to a GPU: -1 all, 0 none (default: all on a GPU build)"
    )
    n_threads: int | None = _option(None, "CPU threads (default: the cores this process has)")
    pooling: str | None = _option(None, "none, mean, cls, last or rank (default: the model's own)")
    flash_attn: str = _option("auto", "flash attention: auto, on or off")
    n_ubatch: int | None = _option(None, "llama.cpp's physical batch size in tokens")
    batch_tokens: int | None = _option(
        None, "tokens per decode (default: 256 on a CPU, 2048 on a GPU; at most n_ubatch)"
    )
    upcast: bool | None = _option(
        None,
        "load an f32 copy of f16/bf16 weights (default: on a CPU); False loads the file as it is",
    )
    n_contexts: int | None = _option(
        None, "llama.cpp contexts sharing a large call's decodes (default: one per core on a CPU)"
    )
    precision: str = _option(
        "exact",
        "exact, or fast: bf16 weight matrices on a CPU with bf16 dot products "
        "(about 1.6x faster, cosine >= 0.9998 to exact); elsewhere fast is exact",
    )
    query_prompt: str | None = _option(
        None,
        "text put before queries (prompt='query', search); default: the family's preset, "
        "'' for none",
    )
    document_prompt: str | None = _option(
        None,
        "text put before documents (prompt='document', search's corpus); default: the "
        "family's preset, '' for none",
    )
    # ruff takes os.PathLike for a mutable default; the default is None.
    mmproj: str | os.PathLike[str] | None = _option(  # noqa: RUF009
        None,
        "a multimodal projector GGUF (the model's mmproj-*.gguf): embed images, and audio "
        "where it has an audio encoder, beside text",
    )
    #: What the engine makes of the options above.
    checked: LoadOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.name is not None and not isinstance(self.name, str):
            raise InvalidInputError(f"name must be a str, not {type(self.name).__name__}")
        from ..prompts import checked_prompt_option

        checked_prompt_option("query_prompt", self.query_prompt)
        checked_prompt_option("document_prompt", self.document_prompt)
        engine = {name: getattr(self, name) for name in option_names(LocalOptions)}
        if self.mmproj is not None and (
            isinstance(self.mmproj, bytes) or not isinstance(self.mmproj, str | os.PathLike)
        ):
            raise InvalidInputError(
                f"mmproj must be a path (str or Path), not {type(self.mmproj).__name__}"
            )
        for not_engine in ("name", "query_prompt", "document_prompt", "mmproj"):
            del engine[not_engine]
        object.__setattr__(self, "checked", check_options(**engine))

    def kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments, e.g. for ``LocalModel(path, **options)``."""
        return {name: getattr(self, name) for name in option_names(LocalOptions)}


def option_names(cls: type) -> tuple[str, ...]:
    """The user-facing options of an options dataclass, in declaration order."""
    return tuple(f.name for f in fields(cls) if f.init)


def option_docs(cls: type) -> dict[str, str]:
    """Each user-facing option of an options dataclass with its one-line description."""
    return {f.name: f.metadata.get("doc", "") for f in fields(cls) if f.init}


def check_options(
    *,
    n_ctx: object,
    n_gpu_layers: object,
    n_threads: object,
    pooling: object,
    flash_attn: object,
    n_ubatch: object,
    batch_tokens: object,
    upcast: object,
    n_contexts: object,
    precision: object,
) -> LoadOptions:
    """Check every option's type and range; raise :class:`InvalidInputError` on the first bad."""
    thread_cap = max_threads()
    threads = _bounded_int("n_threads", n_threads, 1, thread_cap, hint="cores x 4")
    contexts = _bounded_int("n_contexts", n_contexts, 1, MAX_CONTEXTS)
    if contexts is not None and contexts > (threads or default_threads()):
        raise InvalidInputError(
            f"n_contexts={contexts} is more than n_threads={threads or default_threads()}; "
            "each context needs at least one thread"
        )
    if isinstance(flash_attn, str) and flash_attn in FLASH_ATTN_TYPES:
        flash = flash_attn
    else:
        raise InvalidInputError(
            f"flash_attn must be one of {', '.join(FLASH_ATTN_TYPES)}, not {flash_attn!r}"
        )
    if pooling is not None and not isinstance(pooling, str):
        raise InvalidInputError(
            f"pooling must be a name (none, mean, cls, last, rank) or None, not {pooling!r}"
        )
    if upcast is not None and not isinstance(upcast, bool):
        raise InvalidInputError(f"upcast must be True, False or None, not {upcast!r}")
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidInputError(
            f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}"
        )
    if upcast is True and precision == "fast":
        raise InvalidInputError(
            "upcast=True (an f32 copy) and precision='fast' (a bf16 copy) contradict each other; "
            "give one of them"
        )
    return LoadOptions(
        n_ctx=_bounded_int("n_ctx", n_ctx, 1, INT32_MAX),
        n_gpu_layers=_gpu_layers(n_gpu_layers),
        n_threads=threads or default_threads(),
        n_threads_given=threads is not None,
        pooling=-1 if pooling is None else pooling_type(pooling),
        flash_attn=flash,
        n_ubatch=_bounded_int("n_ubatch", n_ubatch, 1, INT32_MAX),
        batch_tokens=_bounded_int("batch_tokens", batch_tokens, 1, INT32_MAX),
        upcast=upcast,
        n_contexts=contexts,
        precision=precision,
    )


def _bounded_int(name: str, value: object, low: int, high: int, hint: str = "") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        shown = str(value) if abs(value) < 10**12 else f"<an integer of {value.bit_length()} bits>"
        why = f" ({hint})" if hint else ""
        raise InvalidInputError(f"{name}={shown} is out of range; use {low}..{high}{why}")
    return int(value)


def _gpu_layers(value: object) -> int | None:
    """None (all layers on a GPU build, none otherwise), -1 (all), or a count of layers."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= INT32_MAX:
        raise InvalidInputError(
            f"n_gpu_layers must be an integer: -1 for all layers, 0 for none, or a count; "
            f"not {value!r}"
        )
    return int(value)


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    return min(MAX_THREADS, max(THREADS_PER_CORE * (os.cpu_count() or 1), 4))
