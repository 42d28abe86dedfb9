"""Fixtures for the remote backend: real llama-servers (started once per session and stopped at
its end) and labelled fake servers. The helpers live in ``llama_servers.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_servers import FakeServer, LlamaServer, require_binary

ServerFactory = Callable[..., LlamaServer]


@pytest.fixture(scope="session")
def llama_server_bin() -> Path:
    return require_binary("llama-server")


@pytest.fixture(scope="session")
def llama_embedding_bin() -> Path:
    return require_binary("llama-embedding")


def _server_args(
    mode: str | None, pooling: str | None, flash_attn: str, threads: int, extra: list[str]
) -> list[str]:
    args = [f"--{mode}"] if mode else []
    args += ["-fa", flash_attn, "-t", str(threads), "-tb", str(threads)]
    if pooling is not None:
        args += ["--pooling", pooling]
    return args + extra


@pytest.fixture(scope="session")
def server_factory(
    llama_server_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Start llama-servers on demand, shared by the whole session; all stopped at its end."""
    servers: dict[tuple[Any, ...], LlamaServer] = {}
    logs = tmp_path_factory.mktemp("llama-server-logs")

    def start(
        model: Path,
        *,
        mode: str | None = "embeddings",
        pooling: str | None = None,
        flash_attn: str = "off",
        threads: int = 2,
        extra: tuple[str, ...] = (),
        shared: bool = True,
    ) -> LlamaServer:
        key = (model, mode, pooling, flash_attn, threads, extra)
        if shared and key in servers and servers[key].process is not None:
            return servers[key]
        args = _server_args(mode, pooling, flash_attn, threads, list(extra))
        server = LlamaServer(
            llama_server_bin, model, args, logs / f"{model.stem}-{len(servers)}.log"
        )
        servers[key if shared else (*key, len(servers))] = server
        return server.start()

    try:
        yield start
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """Start labelled fake servers; all shut down after the test."""
    started: list[FakeServer] = []

    def make(
        handler: Callable[[str, str, bytes], tuple[int, bytes]], drop_idle: bool = False
    ) -> FakeServer:
        server = FakeServer(handler, drop_idle).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__()
