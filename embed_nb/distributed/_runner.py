"""A job's parts on a Dask cluster: submitted at once, gathered as they finish.

The parts are the job's own (fixed boundaries, see :mod:`embed_nb.jobs`), so the result does
not depend on how many workers there are. A worker that dies mid-part (killed, out of memory)
has its part run again elsewhere by Dask; a part that kills every worker it meets ends in
``KilledWorker`` after ``distributed.scheduler.allowed-failures`` tries, and then each of its
texts runs alone to find the one that does it.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Sequence
from typing import Any

from ..engine.protocol import EmbeddingModel
from ..errors import ClusterError, EmbedNbError
from ..jobs import PartDone, PartFailed, PartRunner
from ..progress import Progress
from ..request import EmbedRequest
from ._client import dask_client, import_distributed
from ._spec import WorkerSpec, spec_for
from ._worker import embed_texts

__all__ = ["cluster_runner", "culprit", "job_spec"]


def job_spec(model: EmbeddingModel, client: Any) -> WorkerSpec:
    """The spec of ``model`` for the workers ``client`` has now."""
    return spec_for(model, client.scheduler_info().get("workers", {}))


def cluster_runner(model: EmbeddingModel, cluster: object) -> PartRunner:
    """Run parts on ``cluster`` (see :func:`~._client.dask_client`) with workers' copies of
    ``model``; the kernel only sends texts and gathers vectors."""
    client = dask_client(cluster)
    spec = job_spec(model, client)
    distributed = import_distributed()

    def run(parts: list[list[str]], request: EmbedRequest, bar: Progress) -> Generator[PartDone]:
        options = request.options()
        job = uuid.uuid4().hex[:8]
        # The job's parts hold its texts shortest first: submit the longest first, so that no
        # long part is left running alone at the end.
        futures = {
            client.submit(embed_texts, spec, parts[n], options, key=f"embed_nb-{job}-{n}"): n
            for n in reversed(range(len(parts)))
        }
        try:
            for future in distributed.as_completed(futures):
                number = futures[future]
                try:
                    rows, counts = future.result()
                except distributed.KilledWorker:
                    error, position = culprit(client, spec, parts[number], options)
                    raise PartFailed(number, error, position) from None
                except EmbedNbError as error:
                    raise PartFailed(number, error) from None
                yield PartDone(number, rows, counts)
        finally:  # done, failed or interrupted: nothing of this job stays on the cluster
            client.cancel(list(futures))

    return run


def culprit(
    client: Any, spec: WorkerSpec, texts: Sequence[str], options: dict[str, Any]
) -> tuple[EmbedNbError, int | None]:
    """The error for a part whose worker processes died, and which of its texts killed them:
    each text is tried alone, so only the one that crashes a worker fails again."""
    distributed = import_distributed()
    job = uuid.uuid4().hex[:8]
    alone = {
        client.submit(embed_texts, spec, [text], options, key=f"embed_nb-alone-{job}-{k}"): k
        for k, text in enumerate(texts)
    }
    try:
        for future in distributed.as_completed(alone):
            if future.status == "error" and isinstance(
                future.exception(), distributed.KilledWorker
            ):
                k = alone[future]
                return (
                    ClusterError(
                        f"this text crashed every worker process that embedded it: "
                        f"{_preview(texts[k])!r}. Dask stopped retrying it (its "
                        "distributed.scheduler.allowed-failures); the parts already done are "
                        "kept. Remove or fix the text and run again"
                    ),
                    k,
                )
    finally:
        client.cancel(list(alone))
    return (
        ClusterError(
            f"the workers embedding a part of {len(texts)} texts died again and again, but no "
            "text does it alone: check the workers' memory limit (the Dask dashboard's "
            "Workers tab) and their logs"
        ),
        None,
    )


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
