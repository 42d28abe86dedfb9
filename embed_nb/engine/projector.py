"""Images and audio beside text: a multimodal projector (``--mmproj``) run through libmtmd.

An input is one image (or one audio clip) and the text around it: the prompt, llama.cpp's
media marker, the caption. mtmd tokenizes that into chunks (text tokens, then the image's
embeddings from the projector) and evaluates them into a context with embeddings on, one
decode per chunk, as llama-server does; the vector is the context's pooled output of the last
decode. So, exactly as with ``llama-server --mmproj --embeddings``, mean pooling averages the
tokens after the image (which attended to it), and last pooling takes the final token.

llama-server aborts (``GGML_ASSERT(batch.size() > 0)``) when a prompt ends with the image, so
an image without a caption is followed by a newline, here and in what the remote backend sends:
the two give the same vector for the same input.

Decoding image files is not done here: :mod:`embed_nb.media` decodes and checks them in Python
and hands over raw RGB pixels (or float PCM), so untrusted bytes never reach a C decoder.
"""

from __future__ import annotations

import ctypes
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbedNbError, InputTooLongError, InvalidInputError, ModelLoadError
from . import native
from .context import FLASH_ATTN_TYPES, ContextSettings, DecodeContext
from .fingerprint import file_digest
from .gguf_check import GGUFSummary, Value, read_gguf

__all__ = [
    "CAPTIONLESS_TEXT",
    "MIN_AUDIO_SECONDS",
    "Projector",
    "check_clip",
    "check_projector_file",
]

#: What follows an image that has no caption (see the module docstring).
CAPTIONLESS_TEXT = "\n"
#: The shortest clip taken, in seconds (16 samples at 16 kHz). mtmd, in the kernel and in
#: llama-server, aborts the process on a clip of under two samples at the projector's rate, so
#: both backends refuse a clip this short before llama.cpp sees it (see :func:`check_clip`).
MIN_AUDIO_SECONDS = 0.001
_MODALITY_KEYS = {"vision": "clip.has_vision_encoder", "audio": "clip.has_audio_encoder"}
_MEDIA_KIND = {"image": "vision", "audio": "audio"}


def check_projector_file(path: Path) -> GGUFSummary:
    """Refuse a file that is not a multimodal projector before mtmd reads it (mtmd asserts on
    some of these, which would abort the kernel)."""
    summary = read_gguf(path)
    meta = summary.metadata

    def fail(message: str) -> None:
        raise ModelLoadError(f"{os.fspath(path)!r} is not a usable multimodal projector: {message}")

    arch = _plain(meta.get("general.architecture"))
    if arch != "clip":
        fail(
            f"its architecture is {arch!r}, not 'clip'; pass the mmproj-*.gguf file that "
            "comes with the model as mmproj="
        )
    modalities = [name for name, key in _MODALITY_KEYS.items() if _plain(meta.get(key)) is True]
    if not modalities:
        fail("it has neither a vision nor an audio encoder")
    for modality in modalities:
        prefix = f"clip.{modality}"
        projector = _plain(meta.get("clip.projector_type")) or _plain(
            meta.get(f"{prefix}.projector_type")
        )
        if not isinstance(projector, str) or not projector:
            fail(f"it names no projector type for {modality}")
        counts = ["embedding_length", "block_count", "attention.head_count"]
        if modality == "vision":
            counts += ["image_size", "patch_size"]
        for key in counts:
            value = _plain(meta.get(f"{prefix}.{key}"))
            if not isinstance(value, int) or not 0 < value <= 1 << 20:
                fail(f"key {prefix}.{key!r} is {value!r}; it must be a positive count")
        eps = _plain(meta.get(f"{prefix}.attention.layer_norm_epsilon"))
        if eps is not None and (not isinstance(eps, float) or not math.isfinite(eps) or eps < 0):
            fail(f"key {prefix}.attention.layer_norm_epsilon is {eps!r}")
    return summary


def check_clip(media: Any, index: int) -> None:
    """Refuse a clip shorter than :data:`MIN_AUDIO_SECONDS` (it would abort llama.cpp)."""
    seconds = len(media.data) / media.sample_rate
    if seconds < MIN_AUDIO_SECONDS:
        raise InvalidInputError(
            f"input {index} ({media.label}) is {len(media.data)} sample(s), {seconds * 1000:.3g} "
            f"ms; llama.cpp takes clips of at least {MIN_AUDIO_SECONDS * 1000:g} ms, so pass a "
            "longer one or pad it with silence"
        )


def _plain(value: Value | None) -> Any:
    return None if value is None else value.value


class Projector:
    """An mtmd context on a loaded text model, and the one llama.cpp context it evaluates in.

    Args:
        path: the projector GGUF.
        model: the text model's ``llama_model *``.
        settings: the text contexts' settings; this context takes one sequence at a time, in
            decodes of up to the whole context (so a caption is always one decode).
        n_embd: the length of the model's pooled output.
        use_gpu: run the projector on the GPU llama.cpp was built for.
    """

    def __init__(
        self, path: Path, model: Any, settings: ContextSettings, n_embd: int, *, use_gpu: bool
    ) -> None:
        check_projector_file(path)
        self.path = path
        self.fingerprint = file_digest(path)[:16]
        self._n_embd = n_embd
        self._n_ctx = settings.n_ctx
        self._mtmd: Any = None
        # One sequence at a time, in decodes of up to the whole context.
        whole = ContextSettings(
            settings.n_ctx,
            settings.n_ctx,
            settings.n_threads,
            settings.flash_attn,
            settings.pooling,
            settings.decoder_flash_attn,
        )
        self._context: DecodeContext | None = DecodeContext(model, whole)
        try:
            if not native.lib().llama_get_memory(self._context.ctx):
                raise ModelLoadError(
                    "a projector needs a decoder text model (one with a KV cache); "
                    f"{os.fspath(path)!r} was given with an encoder"
                )
            self._load(path, model, settings.n_threads, use_gpu)
        except BaseException:
            self.free()
            raise

    def _load(self, path: Path, model: Any, n_threads: int, use_gpu: bool) -> None:
        assert self._context is not None
        mt = native.mtmd_lib()
        params = mt.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.n_threads = n_threads
        params.print_timings = False
        params.warmup = False
        # The encoder's flash attention follows the text context's, as llama-server's does:
        # the two ways differ by about 2e-4 in the vectors on a CPU.
        params.flash_attn_type = FLASH_ATTN_TYPES[self._context.flash_attn]
        self._mtmd = mt.mtmd_init_from_file(os.fsencode(path), model, params)
        if not self._mtmd:
            raise ModelLoadError(
                f"llama.cpp could not load the projector {os.fspath(path)!r} for this model: "
                + " ".join((native.take_recent_errors() or "unknown error").split())
            )
        supported = (
            ("vision", mt.mtmd_support_vision(self._mtmd)),
            ("audio", mt.mtmd_support_audio(self._mtmd)),
        )
        self.modalities = tuple(name for name, yes in supported if yes)
        audio = "audio" in self.modalities
        self.sample_rate = int(mt.mtmd_get_audio_sample_rate(self._mtmd)) if audio else None
        self.marker = (mt.mtmd_default_marker() or b"").decode("utf-8")

    def check_kind(self, kind: str, index: int) -> None:
        """Refuse an image for an audio-only projector and audio for a vision-only one."""
        if _MEDIA_KIND[kind] not in self.modalities:
            takes = " and ".join("images" if m == "vision" else "audio" for m in self.modalities)
            raise InvalidInputError(
                f"input {index} is {'an image' if kind == 'image' else kind}, but this "
                f"projector takes {takes} only; load a "
                f"projector with {_MEDIA_KIND[kind]} support"
            )

    def embed(self, media: Any, index: int) -> tuple[np.ndarray, int]:
        """The pooled (not normalised) vector of one image or clip with the text around it
        (its prompt, caption and suffix), and the number of tokens (text and media) the model
        read."""
        self.check_kind(media.kind, index)
        caption = media.caption or CAPTIONLESS_TEXT
        before, after = media.prompt, media.suffix
        for part, what in ((caption, "caption"), (before, "prompt"), (after, "suffix")):
            if self.marker and self.marker in part:
                raise InvalidInputError(
                    f"input {index}: its {what} holds llama.cpp's media marker {self.marker!r}; "
                    "each input has exactly one image or clip, so remove the marker"
                )
        text = (before + self.marker + caption + after).encode("utf-8", "surrogatepass")
        assert self._context is not None
        mt, ll = native.mtmd_lib(), native.lib()
        bitmap = self._bitmap(media, index)
        chunks = mt.mtmd_input_chunks_init()
        try:
            bitmaps = (mt.mtmd_bitmap_p_ctypes * 1)(bitmap)
            query = mt.mtmd_input_text(text, len(text), True, True)
            status = mt.mtmd_tokenize(self._mtmd, chunks, ctypes.byref(query), bitmaps, 1)
            if status != 0:
                raise InvalidInputError(
                    f"input {index}: llama.cpp could not tokenize the {media.kind} "
                    f"(status {status}): {native.take_recent_errors() or 'no details'}"
                )
            n_tokens = int(mt.mtmd_helper_get_n_tokens(chunks))
            n_pos = int(mt.mtmd_helper_get_n_pos(chunks))
            if max(n_tokens, n_pos) > self._n_ctx:
                raise InputTooLongError(index, max(n_tokens, n_pos), self._n_ctx)
            ll.llama_memory_clear(ll.llama_get_memory(self._context.ctx), True)
            n_past = ll.llama_pos(0)
            status = mt.mtmd_helper_eval_chunks(
                self._mtmd, self._context.ctx, chunks, 0, 0, self._n_ctx, True, ctypes.byref(n_past)
            )
            if status != 0:
                raise EmbedNbError(
                    f"llama.cpp failed to evaluate input {index} (status {status}): "
                    f"{native.take_recent_errors() or 'no details'}"
                )
            pooled = ll.llama_get_embeddings_seq(self._context.ctx, 0)
            if not pooled:
                raise EmbedNbError(f"llama.cpp gave no pooled vector for input {index}")
            return native.read_floats(pooled, self._n_embd), n_tokens
        finally:
            mt.mtmd_input_chunks_free(chunks)
            mt.mtmd_bitmap_free(bitmap)

    def _bitmap(self, media: Any, index: int) -> Any:
        mt = native.mtmd_lib()
        if media.kind == "image":
            height, width, _ = media.data.shape
            pixels = np.ascontiguousarray(media.data, dtype=np.uint8)
            bitmap = mt.mtmd_bitmap_init(
                width, height, pixels.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))
            )
        else:
            assert self.sample_rate is not None  # check_kind passed
            check_clip(media, index)  # a clip of one sample aborts mtmd
            samples = np.ascontiguousarray(media.resampled(self.sample_rate), dtype=np.float32)
            bitmap = mt.mtmd_bitmap_init_from_audio(
                len(samples), samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            )
        if not bitmap:  # mtmd copies the data, so the arrays may go now
            raise EmbedNbError(f"llama.cpp could not take the {media.kind}'s data")
        return bitmap

    def free(self) -> None:
        if self._context is not None:
            self._context.free()
            self._context = None
        if self._mtmd:
            native.mtmd_lib().mtmd_free(self._mtmd)
            self._mtmd = None
