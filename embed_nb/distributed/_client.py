"""Which Dask client a job runs on, from what a user passes as ``cluster=`` / ``client=``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError, InvalidInputError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["CONNECT_TIMEOUT", "dask_client", "import_distributed"]

#: Seconds to wait for a scheduler given by address before saying it does not answer.
CONNECT_TIMEOUT = 10.0

# One client per scheduler address or cluster object, made on first use: a notebook that
# runs many cells against the same address keeps one connection.
_CLIENTS: dict[str, Client] = {}
_LOCK = threading.Lock()


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InvalidInputError(
            "running on a Dask cluster needs dask.distributed: pip install 'embed_nb[dask]'"
        ) from None
    return distributed


def dask_client(cluster: object, *, timeout: float = CONNECT_TIMEOUT) -> Client:
    """The client for ``cluster``: a ``distributed.Client``; a cluster object (``LocalCluster``,
    dask-jobqueue's ``SLURMCluster``...); a scheduler address such as ``"tcp://host:8786"``;
    or True (or None) for the notebook's default client, the last ``Client()`` it made.

    Raises:
        InvalidInputError: ``cluster`` is none of these, or a closed client.
        ClusterError: no scheduler answers at the address within ``timeout`` seconds.
    """
    distributed = import_distributed()
    if isinstance(cluster, distributed.Client):
        if cluster.status in ("closing", "closed"):
            raise InvalidInputError("that Dask client is closed: make a new one with Client(...)")
        return cluster
    if cluster is True or cluster is None:
        try:
            return distributed.default_client()
        except ValueError:
            raise InvalidInputError(
                "no Dask client in this kernel: make one first (from dask.distributed import "
                "Client; client = Client() starts a LocalCluster) or give a scheduler address"
            ) from None
    if isinstance(cluster, str):
        return _shared(cluster, lambda: _connect(distributed, cluster, timeout))
    address = getattr(cluster, "scheduler_address", None)
    if isinstance(address, str):
        return _shared(address, lambda: distributed.Client(cluster, set_as_default=False))
    raise InvalidInputError(
        "cluster must be a dask.distributed Client, a cluster object (LocalCluster, "
        "SLURMCluster...), a scheduler address such as 'tcp://host:8786', or True for the "
        f"notebook's default client, not {type(cluster).__name__}"
    )


def _shared(address: str, make: Any) -> Client:
    with _LOCK:
        client = _CLIENTS.get(address)
        if client is None or client.status in ("closing", "closed"):
            client = _CLIENTS[address] = make()
        return client


def _connect(distributed: Any, address: str, timeout: float) -> Client:
    if "://" not in address and ":" not in address:
        raise InvalidInputError(
            f"{address!r} is not a scheduler address: write it as tcp://host:8786"
        )
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(
            f"no Dask scheduler answers at {address} within {timeout:g} s ({error}); start one "
            "(`dask scheduler`, or Client() for a LocalCluster), or check the host and port"
        ) from None
