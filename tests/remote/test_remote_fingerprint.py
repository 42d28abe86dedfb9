"""Fingerprints of REAL llama-servers: one per server and per pooling actually applied, stable for
the same server. (Fakes that only differ in their probe answer are in test_remote_hostile.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llama_servers import LlamaServer

from embed_nb.engine.remote import RemoteModel

Factory = Callable[..., LlamaServer]


def test_servers_of_one_model_with_other_pooling_get_other_fingerprints(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    mean = server_factory(bert_mean_path)
    cls_ = server_factory(bert_mean_path, pooling="cls")
    with RemoteModel(mean.url) as a, RemoteModel(mean.url) as again, RemoteModel(cls_.url) as b:
        assert a.fingerprint == again.fingerprint  # the same server, the same key
        assert a.fingerprint != b.fingerprint
        assert a.n_embd == b.n_embd == a.info.n_embd  # the probe's size is the reported one
        assert "127.0.0.1" not in a.fingerprint


def test_the_same_server_restarted_with_other_pooling_gets_another_fingerprint(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path, shared=False)
    with RemoteModel(server.url) as before:
        first = before.fingerprint
    server.args += ["--pooling", "cls"]
    server.restart()  # same port, same /props, other pooling
    with RemoteModel(server.url) as after:
        assert after.fingerprint != first
