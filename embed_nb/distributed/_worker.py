"""What runs on a Dask worker: one model per worker process, loaded from a spec on first use.

Importable by the workers (they unpickle tasks that name these functions), so it imports
nothing heavy at module level.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import Counter
from typing import Any

import numpy as np

from ..engine.protocol import EmbeddingModel
from ..errors import ClusterError, ModelNotFoundError
from ._spec import WorkerSpec

__all__ = ["CRASH_ENV", "embed_texts", "load_counts", "worker_model"]

#: Test-only: a worker process whose environment sets this aborts (as a GGML_ASSERT would) when
#: a text it is given contains the value. The fault tests use it; nothing else sets it.
CRASH_ENV = "EMBED_NB_TEST_CRASH_ON"

_MODELS: dict[WorkerSpec, EmbeddingModel] = {}
_LOADS: Counter[str] = Counter()
_LOCK = threading.Lock()


def worker_model(spec: WorkerSpec) -> EmbeddingModel:
    """This process's copy of the model, loaded once (later tasks find it here)."""
    # Keyed without the workers per host: a cluster that grew or shrank since the model was
    # loaded changes the spec's share of cores, not the model, which must not load again.
    key = dataclasses.replace(spec, workers_per_host=())
    with _LOCK:
        model = _MODELS.get(key)
        if model is None or model.closed:
            model = _MODELS[key] = _load(spec)
            _LOADS[spec.fingerprint] += 1
        return model


def load_counts() -> dict[str, int]:
    """How many times this process loaded each model (by fingerprint): 1 unless it had to
    load again, e.g. after the model was closed."""
    return dict(_LOADS)


def embed_texts(
    spec: WorkerSpec, texts: list[str], options: dict[str, Any]
) -> tuple[np.ndarray | list[np.ndarray], list[int]]:
    """One part of a job: ``(vectors, token counts)``; per-token matrices for pooling none."""
    _crash_if_marked(texts)
    result = worker_model(spec).embed(texts, **options)
    rows = result.vectors if result.vectors is not None else result.token_vectors
    assert rows is not None
    return rows, list(result.token_counts)


def _load(spec: WorkerSpec) -> EmbeddingModel:
    where = _worker_address()
    options = dict(spec.options)
    if spec.kind == "local":
        from ..engine import LocalModel

        if "n_threads" not in options:
            host, cores = _host_and_cores(where)
            options["n_threads"] = spec.threads_on(host, cores)
        try:
            model: EmbeddingModel = LocalModel(spec.source, **options)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(
                f"on worker {where}: {error}. Every worker loads the model from the same path "
                "as the kernel: put the GGUF on storage all workers share (an NFS or cluster "
                "file system), or serve it with llama-server and load its URL"
            ) from None
    else:
        from ..engine.remote import RemoteModel

        model = RemoteModel(spec.source, **options)
    if model.fingerprint != spec.fingerprint:
        model.close()
        raise ClusterError(
            f"worker {where} loaded {spec.source} as model {model.fingerprint}, but the kernel's "
            f"is {spec.fingerprint}: their files or settings differ (a precision='fast' bf16 "
            "copy on one CPU and f32 on another, or another file at the same path), so their "
            "vectors would not agree. Give the workers the same file and CPU features, or load "
            "the model with precision='exact'"
        )
    return model


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "(not a Dask worker)"


def _host_and_cores(address: str) -> tuple[str, int]:
    try:
        from distributed.comm import get_address_host

        host = get_address_host(address)
    except (ImportError, ValueError):
        host = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return host, cores or 1


def _crash_if_marked(texts: list[str]) -> None:
    marker = os.environ.get(CRASH_ENV)
    if marker and any(marker in text for text in texts):
        os.abort()
