"""One llama.cpp context and the batch buffer that feeds it: the unit that decodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EmbedNbError, ModelLoadError
from . import native

FLASH_ATTN_TYPES = {"auto": -1, "off": 0, "on": 1}
FLASH_ATTN_NAMES = {value: name for name, value in FLASH_ATTN_TYPES.items()}
MAX_SEQUENCES = 256  # LLAMA_MAX_SEQ
GGML_TYPE_F32 = 0


@dataclass(frozen=True)
class ContextSettings:
    n_ctx: int
    n_ubatch: int
    n_threads: int
    flash_attn: str
    pooling: int  # llama_pooling_type; -1 takes the model's own
    # What "auto" flash attention becomes for a decoder: "off" on a CPU, "auto" (llama.cpp
    # decides) on a GPU; see engine/defaults.py.
    decoder_flash_attn: str = "off"


class DecodeContext:
    """A context with embeddings on, sized so that one decode is one micro-batch."""

    def __init__(self, model: Any, settings: ContextSettings) -> None:
        ll = native.lib()
        params = ll.llama_context_default_params()
        params.n_ctx = settings.n_ctx
        params.n_batch = params.n_ubatch = settings.n_ubatch
        params.n_seq_max = min(MAX_SEQUENCES, settings.n_ubatch)
        params.kv_unified = True  # one cache for all sequences, each may use all of n_ctx
        params.embeddings = True
        # A decoder's KV cache in f32: tiny for embedding contexts, and more exact.
        params.type_k = params.type_v = GGML_TYPE_F32
        params.n_threads = params.n_threads_batch = settings.n_threads
        params.flash_attn_type = FLASH_ATTN_TYPES[settings.flash_attn]
        params.pooling_type = settings.pooling
        ctx = ll.llama_init_from_model(model, params)
        decoder_auto = FLASH_ATTN_TYPES[settings.decoder_flash_attn]
        auto = settings.flash_attn == "auto" and decoder_auto != params.flash_attn_type
        if ctx and auto and ll.llama_get_memory(ctx):  # a decoder: it has a KV cache
            ll.llama_free(ctx)
            params.flash_attn_type = decoder_auto
            ctx = ll.llama_init_from_model(model, params)
        if not ctx:
            raise ModelLoadError(
                "llama.cpp could not create a context: "
                f"{native.take_recent_errors() or 'unknown error'}"
            )
        self.ctx = ctx
        self.flash_attn = FLASH_ATTN_NAMES[params.flash_attn_type]
        self.n_seq_max = params.n_seq_max
        self.pooling = ll.llama_pooling_type(ctx)
        # Decoders keep a KV cache that must be emptied between decodes; encoders have none.
        self._memory = ll.llama_get_memory(ctx)
        self._batch = native.TokenBatch(settings.n_ubatch)

    def set_threads(self, n_threads: int) -> None:
        native.lib().llama_set_n_threads(self.ctx, n_threads, n_threads)

    def decode(self, sequences: list[np.ndarray], n_out: int) -> list[np.ndarray]:
        """Run sequences (which fit one micro-batch) and return one output per sequence:
        the pooled vector, or with pooling none an ``(n_tokens, n_out)`` array."""
        ll = native.lib()
        self._batch.fill(sequences)
        if self._memory:
            ll.llama_memory_clear(self._memory, True)
        status = ll.llama_decode(self.ctx, self._batch.struct)
        if status != 0:
            raise EmbedNbError(
                f"llama.cpp failed to decode a batch (status {status}): "
                f"{native.take_recent_errors() or 'no details'}"
            )
        outputs = []
        offset = 0
        for seq, tokens in enumerate(sequences):
            if self.pooling == 0:  # LLAMA_POOLING_TYPE_NONE: one row per token
                rows = [
                    ll.llama_get_embeddings_ith(self.ctx, offset + t) for t in range(len(tokens))
                ]
                outputs.append(np.stack([native.read_floats(row, n_out) for row in rows]))
            else:
                outputs.append(
                    native.read_floats(ll.llama_get_embeddings_seq(self.ctx, seq), n_out)
                )
            offset += len(tokens)
        return outputs

    def free(self) -> None:
        if self.ctx:
            native.lib().llama_free(self.ctx)
            self.ctx = None
