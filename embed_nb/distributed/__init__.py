"""embed_nb past one machine: the same embedding jobs on a Dask cluster.

``embed_nb.embed(texts, cluster=client)`` (and ``search`` / ``project``) sends the texts the
cache does not have to the cluster's workers and returns the same :class:`Embeddings`;
:func:`embed_parquet` embeds parquet files too large for the kernel, part by part, straight to
parquet. Workers load their own copy of the model from a :class:`WorkerSpec` (a path on shared
storage or a server URL), once per worker process. See docs/distributed.md.

Needs the ``dask`` extra: ``pip install 'embed_nb[dask]'``.
"""

from __future__ import annotations

from ._client import CONNECT_TIMEOUT, dask_client
from ._parquet import ParquetJob, embed_parquet
from ._runner import cluster_runner
from ._spec import WorkerSpec, spec_for
from ._worker import load_counts

__all__ = [
    "CONNECT_TIMEOUT",
    "ParquetJob",
    "WorkerSpec",
    "cluster_runner",
    "dask_client",
    "embed_parquet",
    "load_counts",
    "spec_for",
]
