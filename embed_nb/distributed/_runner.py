"""A job's parts on a Dask cluster: submitted at once, gathered as they finish.

The parts are the job's own (fixed boundaries, see :mod:`embed_nb.jobs`), so the result does
not depend on how many workers there are. A worker that dies mid-part (killed, out of memory)
has its part run again elsewhere by Dask; a part that kills every worker it meets ends in
``KilledWorker`` after ``distributed.scheduler.allowed-failures`` tries, and then each of its
texts runs alone to find the one that does it, once the job's other parts are in (and cached).
A part none of whose texts does it alone only sat beside one that did (Dask counts every task
queued on a worker that dies, not only the one it ran), and runs once more, alone.
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
        killed: list[int] = []
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                number = futures[future]
                try:
                    rows, counts = future.result()
                except distributed.KilledWorker:
                    killed.append(number)  # looked into once the other parts are in
                    continue
                except EmbedNbError as error:
                    raise PartFailed(number, error) from None
                yield PartDone(number, rows, counts)
        finally:  # done, failed or interrupted: nothing of this job stays on the cluster
            client.cancel(list(futures))
        # The parts whose workers died come last, one at a time: looking for the text that
        # kills workers kills more of them, and nothing else of the job must be on those.
        poisoned: PartFailed | None = None
        for number in sorted(killed):
            cause, position = culprit(client, spec, parts[number], options)
            if position is not None:
                poisoned = poisoned or PartFailed(number, cause, position)
                continue
            # No text of it kills a worker alone: Dask also counts the tasks queued behind
            # the one that kills a worker, so it may only have sat beside it. Once more, alone.
            rows, counts = _part_alone(client, spec, parts[number], options, number, job)
            yield PartDone(number, rows, counts)
        if poisoned is not None:
            raise poisoned

    return run


def _part_alone(
    client: Any,
    spec: WorkerSpec,
    texts: list[str],
    options: dict[str, Any],
    number: int,
    job: str,
) -> tuple[Any, list[int]]:
    """Part ``number`` again, with nothing else of the job beside it."""
    distributed = import_distributed()
    future = client.submit(embed_texts, spec, texts, options, key=f"embed_nb-{job}-{number}-2")
    try:
        rows, counts = future.result()
    except distributed.KilledWorker:
        raise PartFailed(number, _no_culprit(len(texts))) from None
    except EmbedNbError as error:
        raise PartFailed(number, error) from None
    finally:
        client.cancel([future])
    return rows, counts


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
    killed: list[int] = []
    try:
        for future in distributed.as_completed(alone, loop=client.loop):
            if _killed_workers(distributed, future):
                killed.append(alone[future])
            else:  # let it go: a worker killed later would otherwise compute it again
                future.release()
    finally:
        client.cancel(list(alone))
    # Dask also counts the tasks queued behind the one that kills a worker, so a text may have
    # died only beside the culprit: with several, each is tried again with nothing beside it
    # (the culprit most likely first: it ran before the texts queued behind it).
    for k in sorted(killed):
        if len(killed) == 1 or _kills_alone(client, spec, texts[k], options, f"{job}-{k}"):
            return (
                ClusterError(
                    f"this text crashed every worker process that embedded it: "
                    f"{_preview(texts[k])!r}. Dask stopped retrying it (its "
                    "distributed.scheduler.allowed-failures); the other parts are kept. "
                    "Remove or fix the text and run again"
                ),
                k,
            )
    return _no_culprit(len(texts)), None


def _killed_workers(distributed: Any, future: Any) -> bool:
    return future.status == "error" and isinstance(future.exception(), distributed.KilledWorker)


def _kills_alone(
    client: Any, spec: WorkerSpec, text: str, options: dict[str, Any], name: str
) -> bool:
    future = client.submit(embed_texts, spec, [text], options, key=f"embed_nb-again-{name}")
    try:
        future.exception()  # waits for it to end, either way
        return _killed_workers(import_distributed(), future)
    finally:
        client.cancel([future])


def _no_culprit(n_texts: int) -> ClusterError:
    return ClusterError(
        f"the workers embedding a part of {n_texts} texts died again and again, but no "
        "text does it alone: check the workers' memory limit (the Dask dashboard's "
        "Workers tab) and their logs"
    )


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
