"""A real Dask LocalCluster with worker processes, shared by the distributed tests.

Two workers of one thread each, as on this 2-core machine. Every worker's environment sets
the test-only crash marker (:data:`embed_nb.distributed._worker.CRASH_ENV`), so a text that
contains :data:`CRASH_MARKER` aborts the worker process that embeds it, as a GGML_ASSERT would.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="needs the dask extra")

from embed_nb.distributed._worker import CRASH_ENV  # noqa: E402

CRASH_MARKER = "<<embed_nb test: abort this worker>>"
N_WORKERS = 2


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    import dask

    # A LocalCluster closes a worker's nanny for good when, 15 s after one of that worker's
    # deaths (distributed.deploy.lost-worker-timeout), it finds the worker restarting again:
    # a crash loop longer than that (the crash tests') would leave it without workers.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "10 minutes"}):
        cluster = distributed.LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port (None still takes 8787)
            host="127.0.0.1",
            env={CRASH_ENV: CRASH_MARKER},
        )
        try:
            yield cluster
        finally:
            cluster.close()


@pytest.fixture
def dask_client(dask_cluster: Any) -> Iterator[Any]:
    """A client with every worker up (a test before may have killed some)."""
    client = distributed.Client(dask_cluster, set_as_default=False)
    try:
        client.wait_for_workers(N_WORKERS, timeout=60)
        yield client
    finally:
        client.close()


def kill_a_worker(client: Any) -> None:
    """SIGKILL one worker process (its nanny starts a new one)."""
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)


def wait_until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
