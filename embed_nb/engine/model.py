"""A GGUF model resident in the process, driven through llama.cpp's low-level API."""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import (
    InvalidInputError,
    ModelClosedError,
    ModelLoadError,
    NotARerankerError,
)
from ..prompts import family_of, resolve_prompts
from ..request import EmbedRequest, checked_request
from ..results import Embeddings, RerankResult
from . import native
from .batching import plan_decodes
from .classifier_head import check_classifier_head
from .context import ContextSettings, DecodeContext
from .defaults import EngineDefaults, engine_defaults
from .embedding import (
    assemble,
    classifier_labels,
    missing_eos_text,
    rerank_format,
    rerank_pairs,
    rerank_result,
    special_framing,
    text_windows,
    token_windows,
)
from .fingerprint import file_digest, file_fingerprint
from .gguf_check import check_gguf
from .info import ModelInfo, file_type_name
from .inputs import as_input_list, rerank_inputs, utf8
from .memory import check_context_buffers
from .normalize import POOLING_NAMES
from .normalize import normalize as normalize_vectors
from .options import LoadOptions, LocalOptions
from .placement import Placement, gpu_layers_to_ask, placement
from .precision import describe_precision, plan_weights
from .probe import verified_plan, verify_projector
from .projector import Projector
from .rerank_instruction import default_instruction
from .weight_copy import SOURCE_FILE_TYPE_KEY, WeightCopy, weight_copy
from .workers import DecodeRunner, ProgressFn

# Architectures whose learned position table has n_ctx_train rows: reading past it is
# out of bounds in llama.cpp, so their context can never exceed the training context.
ABSOLUTE_POSITION_ARCHS = {"bert", "jina-bert-v2", "t5encoder"}
# How Model.info's quantization names the weights of a copy (see weight_copy).
COPY_LABELS = {"f32": "upcast to F32 for the CPU", "bf16": "rounded to BF16 for the CPU"}

__all__ = ["LocalModel", "file_fingerprint"]  # file_fingerprint: imported from here elsewhere


def _model_path(path: object) -> Path:
    if isinstance(path, bytes | bytearray) or not isinstance(path, str | os.PathLike):
        raise InvalidInputError(f"a model path must be a str or a Path, not {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\0" in text:
        raise InvalidInputError(f"{text!r} is not a usable model path")
    return Path(text)


def _check_once(path: Path, digest: str) -> None:
    """Static checks of the file (see gguf_check), skipped once a child has verified it."""
    if not _STATICALLY_CHECKED.get(digest):
        check_gguf(path)
        _STATICALLY_CHECKED[digest] = True


_STATICALLY_CHECKED: dict[str, bool] = {}


def _a(kind: str) -> str:
    """ "an image", "audio": a media kind in a sentence."""
    return "an image" if kind == "image" else kind


class _Weights(NamedTuple):
    """The file llama.cpp loads, the weight copy it is (None: the model file itself), and
    what the precision became (Model.info's ``precision_used``)."""

    path: Path
    copy: str | None
    precision_used: str


class _Native:
    """The model pointer and the contexts' runner, freed exactly once (close() or GC)."""

    def __init__(self) -> None:
        self.model: Any = None
        # Contexts made so far: a load that fails halfway frees them too.
        self.contexts: list[DecodeContext] = []
        self.runner: DecodeRunner | None = None
        self.projector: Projector | None = None

    def free(self) -> None:
        if self.projector is not None:  # it holds the model pointer: free it first
            self.projector.free()
            self.projector = None
        if self.runner is not None:
            self.runner.close()  # frees its contexts
            self.runner = None
        for context in self.contexts:
            context.free()
        self.contexts = []
        if self.model:
            native.lib().llama_model_free(self.model)
            self.model = None


class LocalModel:
    """An embedding or reranking model loaded once and kept in memory.

    Calls are serialised by a lock (a llama.cpp context is not thread-safe) and run as many
    small decodes, so a KeyboardInterrupt lands between two of them and leaves the model usable.
    On a CPU the decodes of a large call are shared by one single-threaded context per core.
    """

    kind = "local"
    #: The most tokens any text embedded so far had (before any cut); read by the doctor.
    longest_input = 0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        n_ctx: int | None = None,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        pooling: str | None = None,
        flash_attn: str = "auto",
        n_ubatch: int | None = None,
        batch_tokens: int | None = None,
        upcast: bool | None = None,
        n_contexts: int | None = None,
        precision: str = "exact",
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        mmproj: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = _model_path(path)
        # The keyword arguments are LocalOptions' fields (a test keeps them the same).
        given = LocalOptions(
            name=name,
            n_ctx=n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_threads=n_threads,
            pooling=pooling,
            flash_attn=flash_attn,
            n_ubatch=n_ubatch,
            batch_tokens=batch_tokens,
            upcast=upcast,
            n_contexts=n_contexts,
            precision=precision,
            query_prompt=query_prompt,
            document_prompt=document_prompt,
            mmproj=mmproj,
        )
        self.name = given.name or self.path.stem
        #: The options it was loaded with, as given (a Dask worker loads its copy from them).
        self.options = given
        options = given.checked
        self._lock = threading.RLock()
        # -1: llama.cpp offloads every layer that fits; 0 on a CPU-only build.
        gpu_layers = gpu_layers_to_ask(options.n_gpu_layers, native.supports_gpu_offload())
        defaults = engine_defaults(offloaded=gpu_layers != 0)
        digest = file_digest(self.path)
        self.fingerprint = digest[:16]
        _check_once(self.path, digest)
        weights = self._weights(options, defaults)
        plan = verified_plan(
            weights.path, digest if weights.copy is None else file_digest(weights.path)
        )
        self._native = _Native()
        self._finalizer = weakref.finalize(self, self._native.free)
        try:
            with native.deferred_interrupts():  # Ctrl-C lands after the native calls, not in them
                logged_layers = self._load(weights.path, gpu_layers, plan.extra_bufts)
                where = placement(self._native.model, gpu_layers, logged_layers)
                self._setup(weights, options, defaults, where)
                if given.mmproj is not None:
                    self._load_projector(_model_path(given.mmproj), gpu_layers != 0)
            if self.pooling == "rank":  # a head-less "reranker" would score noise
                check_classifier_head(self.path)
        except BaseException:
            self._finalizer()
            raise

    def _load(self, weights: Path, gpu_layers: int, extra_bufts: bool) -> int | None:
        """Load the weights; return the GPU layers llama.cpp's log says it offloaded."""
        ll = native.lib()
        model_params = ll.llama_model_default_params()
        model_params.n_gpu_layers = gpu_layers
        # Off where extra CPU buffer types (AMX) crashed this machine's probe: see probe.py.
        model_params.use_extra_bufts = extra_bufts
        model_params.progress_callback = native.load_progress_callback()
        native.take_recent_errors()
        native.take_offloaded_layers()
        model = ll.llama_model_load_from_file(str(weights).encode(), model_params)
        logged_layers = native.take_offloaded_layers()
        if not model:
            if not weights.exists():
                raise ModelLoadError(
                    f"{weights} disappeared while it was loaded (another process removed it); "
                    "load it again"
                )
            raise ModelLoadError(
                f"llama.cpp could not load {self.path}: "
                f"{native.take_recent_errors() or 'not a model it can read'}"
            )
        self._native.model = model
        return logged_layers

    def _weights(self, options: LoadOptions, defaults: EngineDefaults) -> _Weights:
        """The file llama.cpp loads: the model, or a cached weight copy for the CPU."""
        plan = plan_weights(
            options.precision,
            options.upcast,
            copy_weights=defaults.copy_weights,
            cpu_bf16=native.cpu_has_bf16(),
        )
        made = (
            weight_copy(self.path, self.fingerprint, plan.copy) if plan.copy else WeightCopy(None)
        )
        loaded = plan.copy if made.path else None
        if loaded:
            # Vectors differ a little from the file's own weights' ones, and between the f32
            # and bf16 copies: the fingerprint, part of every cache key, says which made them.
            self.fingerprint += f"-{loaded}"
        used = describe_precision(options.precision, plan, loaded, made.reason)
        return _Weights(made.path or self.path, loaded, used)

    def _setup(
        self, weights: _Weights, options: LoadOptions, defaults: EngineDefaults, where: Placement
    ) -> None:
        ll = native.lib()
        model = self._native.model
        self.architecture = native.meta_string(model, "general.architecture") or "unknown"
        n_ctx_train = ll.llama_model_n_ctx_train(model)
        n_ctx = options.n_ctx
        if n_ctx is None:
            n_ctx = max(1, n_ctx_train)
        elif n_ctx > n_ctx_train and self.architecture in ABSOLUTE_POSITION_ARCHS:
            raise InvalidInputError(
                f"n_ctx={n_ctx} is larger than this {self.architecture} model's training context "
                f"({n_ctx_train}); its position table has no rows past that"
            )
        n_ubatch = min(options.n_ubatch or n_ctx, n_ctx)
        n_threads = options.n_threads
        wanted = options.n_contexts or min(n_threads, defaults.max_contexts)
        n_contexts = max(1, min(wanted, n_threads))
        # Only causal models keep a KV cache; encoders say attention.causal = false.
        causal = native.meta_string(model, f"{self.architecture}.attention.causal")
        check_context_buffers(
            model,
            kv_cache=causal != "false" and self.architecture not in ABSOLUTE_POSITION_ARCHS,
            n_ctx=n_ctx,
            n_ubatch=n_ubatch,
            n_contexts=n_contexts,
            flash_attn=options.flash_attn,
        )
        self._settings = settings = ContextSettings(
            n_ctx,
            n_ubatch,
            n_threads,
            options.flash_attn,
            options.pooling,
            defaults.decoder_flash_attn,
        )
        for _ in range(n_contexts):
            self._native.contexts.append(DecodeContext(model, settings))
        contexts = self._native.contexts
        self._native.runner = DecodeRunner(contexts, n_threads)
        self._native.contexts = []  # the runner owns them now
        first = contexts[0]
        batch_tokens = options.batch_tokens or defaults.batch_tokens

        vocab = ll.llama_model_get_vocab(model)
        self._tokenizer = native.Tokenizer(vocab)
        self.pooling = POOLING_NAMES.get(first.pooling, "none")
        self.n_embd = (
            ll.llama_model_n_cls_out(model)
            if self.pooling == "rank"
            else ll.llama_model_n_embd_out(model)
        )
        self.max_tokens = n_ubatch
        self.batch_tokens = min(batch_tokens, n_ubatch)
        self._n_seq_max = first.n_seq_max
        self._framing = special_framing(self._tokenizer, vocab)
        self._pair_format = rerank_format(model, vocab)
        # The GGUF's own names, which say the model's family (see embed_nb.prompts).
        names = (native.meta_string(model, f"general.{key}") for key in ("name", "basename"))
        self.gguf_names = tuple(name for name in names if name)
        self.prompts = resolve_prompts(
            family_of(self),
            self.options.query_prompt,
            self.options.document_prompt,
            eos_text=missing_eos_text(vocab),
        )
        file_type = file_type_name(native.meta_string(model, "general.file_type"))
        if weights.copy:
            source_type = native.meta_string(model, SOURCE_FILE_TYPE_KEY)
            file_type = f"{file_type_name(source_type)} ({COPY_LABELS[weights.copy]})"
        self.info = ModelInfo(
            name=self.name,
            path=str(self.path),
            architecture=self.architecture,
            description=native.model_description(model),
            n_embd=self.n_embd,
            n_ctx_train=n_ctx_train,
            n_ctx=n_ctx,
            pooling=self.pooling,
            classifier_labels=classifier_labels(model, self.n_embd, self.pooling),
            vocab_size=ll.llama_vocab_n_tokens(vocab),
            file_size=self.path.stat().st_size,
            quantization=file_type,
            n_params=ll.llama_model_n_params(model),
            precision=options.precision,
            precision_used=weights.precision_used,
            backend=where.backend,
            devices=where.devices,
            n_gpu_layers=where.n_gpu_layers,
            n_threads=n_threads,
            n_contexts=len(contexts),
            flash_attn=first.flash_attn,
            n_ubatch=n_ubatch,
            fingerprint=self.fingerprint,
            prompts=self.prompts.describe(),
        )

    def _load_projector(self, path: Path, use_gpu: bool) -> None:
        """Load a multimodal projector onto the model (see :mod:`.projector`)."""
        if self.pooling in ("none", "rank"):
            raise InvalidInputError(
                f"a projector embeds images as pooled vectors; this model pools {self.pooling!r}"
            )
        pair = hashlib.sha256(f"{file_digest(self.path)}+{file_digest(path)}".encode())
        verify_projector(self.path, path, "mmproj-" + pair.hexdigest()[:32])
        projector = Projector(
            path, self._native.model, self._settings, self.n_embd, use_gpu=use_gpu
        )
        self._native.projector = projector
        kinds = {"vision": "image", "audio": "audio"}
        self.info = replace(
            self.info,
            modalities=("text", *(kinds[m] for m in projector.modalities)),
            projector=str(path),
        )

    @property
    def projector(self) -> Projector | None:
        """The multimodal projector (None: texts only)."""
        return self._native.projector

    @property
    def media_fingerprint(self) -> str:
        """What, beside :attr:`fingerprint`, decides an image's vector: the projector file."""
        projector = self._native.projector
        return projector.fingerprint if projector is not None else ""

    # --- public API ----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._native.model is None

    @property
    def is_reranker(self) -> bool:
        return self.pooling == "rank"

    @property
    def rerank_instruction(self) -> str | None:
        """The default instruction in the ``rerank`` template (None: it has no place for one)."""
        return default_instruction(self._pair_format.template)

    def close(self) -> None:
        """Free the model and its context. Later calls raise :class:`ModelClosedError`."""
        with self._lock:
            self._finalizer()

    def __enter__(self) -> LocalModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pooling={self.pooling!r}, dim={self.n_embd}"
        return f"<LocalModel {self.name!r} {state}>"

    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = True
    ) -> list[int]:
        """Token ids for a text, as llama-server makes them (special tokens added and parsed)."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, not {type(text).__name__}")
        with self._lock:
            self._check_open()
            tokens = self._tokenizer(
                utf8(text, 0), add_special=add_special, parse_special=parse_special
            )
        return tokens.tolist()

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: int = 2,
        truncate: bool = False,
        chunk: bool = False,
        progress: ProgressFn | None = None,
        request: EmbedRequest | None = None,
    ) -> Embeddings:
        """Embed one text (giving ``(d,)``) or a list of texts (giving ``(n, d)``).

        Args:
            texts: a str or a sequence of str.
            normalize: llama.cpp's ``embd_normalize``: -1 none, 0 max-abs to int16 range,
                1 L1, 2 L2 (default), p > 2 p-norm. Ignored with pooling ``none``.
            truncate: cut texts longer than the context, keeping the closing special token.
            chunk: embed long texts as overlapping windows and average them.
            progress: called as ``progress(done, total)`` after each decode.
            request: an :class:`~embed_nb.request.EmbedRequest`, instead of ``normalize``,
                ``truncate`` and ``chunk``.
        """
        items, single = as_input_list(texts)
        request = checked_request(request, normalize=normalize, truncate=truncate, chunk=chunk)
        media = {i: item for i, item in enumerate(items) if not isinstance(item, str)}
        if media:
            return self._embed_with_media(items, media, request, progress, single)
        with self._lock:
            self._check_open()
            windows = text_windows(self, items, request)
            outputs = self._run(windows.sequences, progress)
        return assemble(self, request, items, windows, outputs, single=single)

    def _embed_with_media(
        self,
        items: list[Any],
        media: dict[int, Any],
        request: EmbedRequest,
        progress: ProgressFn | None,
        single: bool,
    ) -> Embeddings:
        """Texts through the usual decodes, images and audio one by one through the
        projector; the rows in input order, normalised alike."""
        projector = self._native.projector
        first = min(media)
        if projector is None:
            raise InvalidInputError(
                f"input {first} is {_a(media[first].kind)}, but {self.name} was loaded without a "
                "projector: load it with mmproj='mmproj-….gguf' (--mmproj)"
            )
        if request.chunk or request.truncate:
            raise InvalidInputError("truncate and chunk apply to texts only, not to images")
        for index, item in media.items():
            projector.check_kind(item.kind, index)
        texts = [i for i in range(len(items)) if i not in media]
        rows: list[np.ndarray] = [np.empty(0, np.float32)] * len(items)
        counts = [0] * len(items)
        with self._lock:
            self._check_open()
            if texts:
                windows = text_windows(self, [items[i] for i in texts], request)
                outputs = self._run(windows.sequences, None)
                done = assemble(self, request, [items[i] for i in texts], windows, outputs)
                assert done.vectors is not None  # pooled: none and rank were refused at load
                for k, i in enumerate(texts):
                    rows[i], counts[i] = done.vectors[k], done.token_counts[k]
            for n, (index, item) in enumerate(media.items()):
                with native.deferred_interrupts():  # Ctrl-C lands between two inputs
                    raw, counts[index] = projector.embed(item, index)
                rows[index] = normalize_vectors(raw[None, :], request.normalize)[0]
                if progress is not None:
                    progress(len(texts) + n + 1, len(items))
        return Embeddings.from_parts(
            model=self,
            request=request,
            texts=items,
            rows=rows,
            token_counts=counts,
            single=single,
        )

    def embed_tokens(self, sequences: Sequence[Sequence[int]], *, normalize: int = 2) -> Embeddings:
        """Embed token id sequences exactly as given (llama-server accepts token arrays too).

        Every id is checked against the vocabulary first: llama.cpp must never see a bad one.
        """
        request = checked_request(None, normalize=normalize)
        windows = token_windows(self, sequences)
        with self._lock:
            self._check_open()
            outputs = self._run(windows.sequences, None)
        texts = [f"<{len(a)} token ids>" for a in windows.sequences]
        return assemble(self, request, texts, windows, outputs)

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncate: bool = False,
        instruction: str | None = None,
    ) -> RerankResult:
        """Score each document against the query with a RANK-pooled (cross-encoder) model.

        Scores are the raw first classifier output, as llama-server's ``/v1/rerank`` returns
        them; results are sorted best first and cut to ``top_n``. ``instruction`` replaces
        the default instruction of the model's ``rerank`` template (Qwen3-Reranker's
        ``<Instruct>:`` line; see :attr:`rerank_instruction`).
        """
        if not self.is_reranker:
            raise NotARerankerError(
                f"{self.name} pools {self.pooling!r}, not 'rank': load a reranker GGUF, or use "
                "embed_nb.rerank(), which falls back to cosine similarity for embedding models"
            )
        docs = rerank_inputs(query, documents, top_n)
        with self._lock:
            self._check_open()
            pairs = rerank_pairs(self, query, docs, truncate=truncate, instruction=instruction)
            outputs = self._run(pairs, None)
        return rerank_result(self, query, docs, pairs, outputs, top_n)

    # --- the decode loop -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ModelClosedError(f"model {self.name!r} was closed; load it again")

    def _run(self, sequences: list[np.ndarray], progress: ProgressFn | None) -> list[np.ndarray]:
        """Decode the sequences in small length-sorted packs; one output array per sequence."""
        assert self._native.runner is not None
        plan = plan_decodes([len(s) for s in sequences], self.batch_tokens, self._n_seq_max)
        return self._native.runner.run(sequences, plan, self.n_embd, progress)
