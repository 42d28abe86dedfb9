"""What a worker needs to make its own copy of the kernel's model: never the model itself.

A :class:`~embed_nb.engine.LocalModel` holds ctypes handles and cannot be pickled, so workers
get a :class:`WorkerSpec`: the model file's path (which every worker must see, on shared
storage) or the server's URL, the load options, and the fingerprint the kernel's copy has.
An API key never travels: a worker reads it from its own environment, as the kernel does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..engine.protocol import EmbeddingModel
from ..errors import InvalidInputError

__all__ = ["WorkerSpec", "spec_for"]


@dataclass(frozen=True)
class WorkerSpec:
    """A model as workers load it (hashable: each worker process keeps one model per spec)."""

    kind: str  # "local" (a GGUF file) or "remote" (a server URL)
    source: str
    options: tuple[tuple[str, Any], ...]
    fingerprint: str
    #: Workers per host, so each worker's engine takes its share of that host's cores.
    workers_per_host: tuple[tuple[str, int], ...] = ()

    def threads_on(self, host: str, cores: int) -> int:
        """Engine threads for one worker on ``host``: its cores shared among its workers
        (Dask sets OMP_NUM_THREADS=1, which llama.cpp does not read)."""
        workers = dict(self.workers_per_host).get(host, 1)
        return max(1, cores // max(workers, 1))


def spec_for(model: EmbeddingModel, workers: dict[str, Any] | None = None) -> WorkerSpec:
    """The spec of a loaded model; ``workers`` is the scheduler's worker table
    (``client.scheduler_info()["workers"]``), for the share of cores per worker."""
    from ..engine import LocalModel
    from ..engine.remote import RemoteModel

    per_host: dict[str, int] = {}
    for info in (workers or {}).values():
        host = str(info.get("host", ""))
        per_host[host] = per_host.get(host, 0) + 1
    hosts = tuple(sorted(per_host.items()))
    if isinstance(model, LocalModel):
        options = {**model.options.kwargs(), "name": model.name}
        path = os.fspath(model.path)
        return WorkerSpec("local", path, _frozen(options), model.fingerprint, hosts)
    if isinstance(model, RemoteModel):
        options = {
            name: value for name, value in vars(model.options).items() if name != "api_key"
        }
        options["name"] = model.name
        return WorkerSpec("remote", model.url, _frozen(options), model.fingerprint, hosts)
    raise InvalidInputError(
        f"a {type(model).__name__} cannot run on a cluster: load a GGUF file or a server URL "
        "with load_model"
    )


def _frozen(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((name, value) for name, value in options.items() if value is not None))
