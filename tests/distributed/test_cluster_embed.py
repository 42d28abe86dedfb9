"""``embed(texts, cluster=client)`` on a real LocalCluster of worker processes: the same
result as in the kernel, the cache consulted in the kernel, fixed parts, one model load per
worker, and ``search`` / ``project`` / remote models through the cluster.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="needs the dask extra")

from embed_nb import api  # noqa: E402
from embed_nb.cache import EmbeddingCache  # noqa: E402
from embed_nb.datasets import short_texts  # noqa: E402
from embed_nb.distributed import load_counts  # noqa: E402
from embed_nb.distributed._runner import job_spec  # noqa: E402
from embed_nb.engine import LocalModel  # noqa: E402
from embed_nb.jobs import JOB_PART  # noqa: E402
from embed_nb.maps import project  # noqa: E402

PARITY_TEXTS = 2000
ATOL = 1e-4  # the bar against one model.embed() call


class SubmitSpy:
    """Wraps ``client.submit`` to record what the kernel sends: (key, texts) per task."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        submit = client.submit

        def spy(func: Any, spec: Any, texts: list[str], *args: Any, **kwargs: Any) -> Any:
            self.sent.append((str(kwargs.get("key")), list(texts)))
            return submit(func, spec, texts, *args, **kwargs)

        monkeypatch.setattr(client, "submit", spy)

    def texts(self) -> list[str]:
        return [text for _, part in self.sent for text in part]


def executed(stream: Any, keys: list[str]) -> list[str]:
    """The keys among ``keys`` that a worker ran while ``stream`` recorded."""
    wanted = set(keys)
    return [str(task["key"]) for task in stream.data if str(task["key"]) in wanted]


def fitting(model: LocalModel, n: int) -> list[str]:
    """``n`` real texts that fit the tiny models' 128-token context."""
    texts = [t for t in short_texts(n + 200) if len(model.tokenize(t)) <= model.max_tokens]
    assert len(texts) >= n
    return texts[:n]


@pytest.fixture(scope="module")
def tiny(bert_mean_path: Path) -> Iterator[LocalModel]:
    model = LocalModel(bert_mean_path)
    yield model
    model.close()


# --- parity with the real model -----------------------------------------------------------


@pytest.fixture(scope="module")
def parity_texts() -> list[str]:
    return short_texts(PARITY_TEXTS)


@pytest.fixture(scope="module")
def in_kernel(
    default_model: LocalModel, parity_texts: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """The in-kernel result with a cache, so in the same parts of JOB_PART texts."""
    cache = EmbeddingCache(tmp_path_factory.mktemp("kernel") / "cache.sqlite")
    try:
        return api.embed(parity_texts, model=default_model, cache=cache, progress=False)
    finally:
        cache.close()


@pytest.mark.integration
def test_cluster_result_is_bit_identical_to_the_kernels_parts_and_close_to_one_call(
    dask_client: Any, default_model: LocalModel, parity_texts: list[str], in_kernel: Any
) -> None:
    assert len(set(parity_texts)) == PARITY_TEXTS > JOB_PART * 7
    fingerprint = default_model.fingerprint
    before = dask_client.run(load_counts)
    on_cluster = api.embed(
        parity_texts, model=default_model, cache=False, cluster=dask_client, progress=False
    )
    one_call = default_model.embed(parity_texts)

    assert on_cluster.texts == parity_texts == in_kernel.texts
    assert np.array_equal(np.asarray(on_cluster), np.asarray(in_kernel))
    assert on_cluster.token_counts == in_kernel.token_counts == list(one_call.token_counts)
    assert one_call.vectors is not None
    assert np.abs(np.asarray(on_cluster) - one_call.vectors).max() <= ATOL
    for field in ("model", "fingerprint", "pooling", "normalize", "truncate", "chunk"):
        assert getattr(on_cluster, field) == getattr(in_kernel, field), field
    assert on_cluster.fingerprint == default_model.fingerprint

    # Each worker process loaded the model once for all the parts it ran (none again, if an
    # earlier test of the session had loaded it there)...
    counts = dask_client.run(load_counts)
    assert counts.keys() == before.keys() and len(counts) == 2
    for worker, count in counts.items():
        had = before[worker].get(fingerprint, 0)
        assert count.get(fingerprint) == (had or 1), (before, counts)
    # ...and a second job finds it loaded.
    again = api.embed(
        parity_texts[:40], model=default_model, cache=False, cluster=dask_client, progress=False
    )
    assert again.texts == parity_texts[:40]
    assert np.abs(np.asarray(again) - one_call.vectors[:40]).max() <= ATOL
    assert dask_client.run(load_counts) == counts


# --- the cache stays in the kernel ---------------------------------------------------------


def test_only_cache_misses_go_to_the_workers_and_results_come_back_to_the_cache(
    dask_client: Any, tiny: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = fitting(tiny, 600)
    half = texts[::2]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    spy = SubmitSpy(dask_client, monkeypatch)

    first = api.embed(half, model=tiny, cache=cache, cluster=dask_client, progress=False)
    assert first.extra["cache_hits"] == 0
    assert sorted(spy.texts()) == sorted(half)

    spy.sent.clear()
    with distributed.get_task_stream(client=dask_client) as stream:
        both = api.embed(texts, model=tiny, cache=cache, cluster=dask_client, progress=False)
    assert both.extra["cache_hits"] == len(half)
    other_half = texts[1::2]
    assert sorted(spy.texts()) == sorted(other_half)  # only the misses were sent...
    keys = [key for key, _ in spy.sent]
    assert len(keys) == -(-len(other_half) // JOB_PART)
    assert sorted(executed(stream, keys)) == sorted(keys)  # ...and ran once each
    assert both.texts == texts
    assert np.array_equal(np.asarray(both)[::2], np.asarray(first))

    # Duplicates are embedded once; everything now comes from the cache: no task at all.
    spy.sent.clear()
    doubled = texts + texts[:50]
    with distributed.get_task_stream(client=dask_client) as stream:
        third = api.embed(doubled, model=tiny, cache=cache, cluster=dask_client, progress=False)
    assert third.extra["cache_hits"] == len(doubled)
    assert spy.sent == []
    assert [t for t in stream.data if str(t["key"]).startswith("embed_nb-")] == []
    vectors = np.asarray(both)
    assert np.array_equal(np.asarray(third), np.concatenate([vectors, vectors[:50]]))

    # The cluster's vectors are the kernel's for the same parts.
    kernel_cache = EmbeddingCache(tmp_path / "kernel.sqlite")
    api.embed(half, model=tiny, cache=kernel_cache, progress=False)
    in_kernel = api.embed(texts, model=tiny, cache=kernel_cache, progress=False)
    assert np.array_equal(np.asarray(both), np.asarray(in_kernel))
    assert both.token_counts == in_kernel.token_counts
    cache.close()
    kernel_cache.close()


# --- fixed parts ---------------------------------------------------------------------------


def test_the_result_does_not_depend_on_the_number_of_workers(
    dask_client: Any, tiny: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = fitting(tiny, 3 * JOB_PART + 40)
    spy = SubmitSpy(dask_client, monkeypatch)
    two = api.embed(texts, model=tiny, cache=False, cluster=dask_client, progress=False)
    assert len(dask_client.scheduler_info()["workers"]) == 2
    parts_on_two = sorted(spy.sent, key=lambda sent: int(sent[0].rsplit("-", 1)[1]))

    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as solo,
    ):
        solo_spy = SubmitSpy(solo, monkeypatch)
        one = api.embed(texts, model=tiny, cache=False, cluster=solo, progress=False)
        assert len(solo.scheduler_info()["workers"]) == 1
    parts_on_one = sorted(solo_spy.sent, key=lambda sent: int(sent[0].rsplit("-", 1)[1]))

    assert [p for _, p in parts_on_one] == [p for _, p in parts_on_two]
    assert [len(p) for _, p in parts_on_two] == [JOB_PART, JOB_PART, JOB_PART, 40]
    assert np.array_equal(np.asarray(one), np.asarray(two))
    assert one.token_counts == two.token_counts
    # The test can fail: these vectors do depend on how the texts are grouped.
    single = tiny.embed(texts).vectors
    assert not np.array_equal(np.asarray(two), single)


# --- search and project --------------------------------------------------------------------


def test_search_and_project_on_the_cluster_equal_the_kernel(
    dask_client: Any, tiny: LocalModel, tmp_path: Path
) -> None:
    corpus = fitting(tiny, 2 * JOB_PART + 100)
    query = "read a line from a file"
    assert query not in corpus  # embedded alone, in the kernel, on both sides
    on_cluster = api.search(
        query,
        corpus,
        k=7,
        model=tiny,
        cache=EmbeddingCache(tmp_path / "cluster.sqlite"),
        cluster=dask_client,
        progress=False,
    )
    in_kernel = api.search(
        query,
        corpus,
        k=7,
        model=tiny,
        cache=EmbeddingCache(tmp_path / "kernel.sqlite"),
        progress=False,
    )
    assert [(h.index, h.document, h.score) for h in on_cluster.hits] == [
        (h.index, h.document, h.score) for h in in_kernel.hits
    ]
    assert len(on_cluster.hits) == 7

    mapped = project(corpus, model=tiny, cache=False, cluster=dask_client)
    kernel_map = project(corpus, model=tiny, cache=EmbeddingCache(tmp_path / "map.sqlite"))
    assert np.array_equal(np.asarray(mapped), np.asarray(kernel_map))
    assert mapped.labels == kernel_map.labels == corpus


# --- one load per worker, whatever the cluster's size -------------------------------------


def test_a_worker_keeps_one_model_when_the_cluster_changes_size(
    dask_client: Any, bert_cls_path: Path
) -> None:
    """The spec carries the workers per host (for the engine's threads); a job on a cluster
    that grew or shrank must still find the model each worker loaded."""
    model = LocalModel(bert_cls_path)
    try:
        spec = job_spec(model, dask_client)
        resized = type(spec)(
            spec.kind, spec.source, spec.options, spec.fingerprint, (("127.0.0.1", 5),)
        )
        from embed_nb.distributed._worker import embed_texts

        for each in (spec, resized, spec):
            futures = [
                dask_client.submit(embed_texts, each, ["a text"], {}, pure=False, workers=[w])
                for w in dask_client.scheduler_info()["workers"]
            ]
            dask_client.gather(futures)
        counts = dask_client.run(load_counts)
        assert all(c.get(model.fingerprint) == 1 for c in counts.values()), counts
    finally:
        model.close()


# --- a remote model on the workers ---------------------------------------------------------


def _llama_servers() -> Any:
    here = Path(__file__).resolve().parents[1] / "remote" / "llama_servers.py"
    spec = importlib.util.spec_from_file_location("embed_nb_test_llama_servers", here)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def llama_server(bert_mean_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real llama-server on the tiny BERT; skipped as tests/remote skips it (not built).
    One slot: each request is decoded alone, so its vectors do not depend on which other
    requests (from the kernel or from two workers) reach the server at the same time."""
    servers = _llama_servers()
    binary = servers.require_binary("llama-server")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    server = servers.LlamaServer(
        binary,
        bert_mean_path,
        ["--embeddings", "-fa", "off", "-t", "1", "-tb", "1", "-np", "1"],
        log,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_workers_call_the_server_for_a_remote_model(
    dask_client: Any,
    llama_server: Any,
    tiny: LocalModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embed_nb.engine.remote import RemoteModel

    texts = fitting(tiny, JOB_PART + 60)
    with RemoteModel(llama_server.url) as remote:
        spec = job_spec(remote, dask_client)
        assert (spec.kind, spec.source) == ("remote", remote.url)
        spy = SubmitSpy(dask_client, monkeypatch)
        on_cluster = api.embed(texts, model=remote, cache=False, cluster=dask_client)
        assert sorted(spy.texts()) == sorted(texts)
        in_kernel = api.embed(
            texts, model=remote, cache=EmbeddingCache(tmp_path / "c.sqlite"), progress=False
        )
        counts = dask_client.run(load_counts)
    assert any(remote.fingerprint in c for c in counts.values()), counts
    assert on_cluster.texts == in_kernel.texts == texts
    assert on_cluster.fingerprint == in_kernel.fingerprint == remote.fingerprint
    assert on_cluster.token_counts == in_kernel.token_counts
    assert np.array_equal(np.asarray(on_cluster), np.asarray(in_kernel))
