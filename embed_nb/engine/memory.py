"""Memory checks before llama.cpp allocates: a context it cannot allocate aborts the process.

A decoder's KV caches (f32) and, without flash attention, the attention scratch of each
context are sized here from the model's shape, and refused in one line when they would take
most of the free memory.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidInputError
from . import native

# The share of available memory one model's KV caches and attention scratch may take.
MEMORY_SHARE = 0.8


def check_context_buffers(
    model: Any, *, kv_cache: bool, n_ctx: int, n_ubatch: int, n_contexts: int, flash_attn: str
) -> None:
    """Refuse contexts whose KV caches (``kv_cache``: causal models) and attention scratch
    (without flash attention) would not fit in memory."""
    ll = native.lib()
    n_layer = max(0, ll.llama_model_n_layer(model))
    n_head = max(1, ll.llama_model_n_head(model))
    n_head_kv = max(0, ll.llama_model_n_head_kv(model))
    n_embd = max(1, ll.llama_model_n_embd(model))
    kv = 2 * n_layer * n_ctx * (n_embd // n_head) * n_head_kv * 4 if kv_cache else 0
    scratch = n_ubatch * n_ubatch * n_head * 4 if flash_attn == "off" else 0
    check_memory(n_contexts * (kv + scratch), f"n_ctx={n_ctx} with {n_contexts} context(s)")


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can get (MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, what: str) -> None:
    """Refuse a configuration whose buffers alone would take most of the free memory."""
    free = available_memory()
    if free is not None and needed > MEMORY_SHARE * free:
        raise InvalidInputError(
            f"{what} needs about {needed / 2**30:.1f} GiB, more than the "
            f"{free / 2**30:.1f} GiB of free memory allows; use a smaller n_ctx or n_contexts"
        )
