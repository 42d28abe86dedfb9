"""Faults on a real LocalCluster of worker processes: a worker SIGKILLed mid-job, a text that
aborts every worker that embeds it, a model file the workers cannot see, a scheduler that does
not answer, a worker whose model differs, a wrong ``cluster=``, and Ctrl-C then resume.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import signal
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="needs the dask extra")

from ports import free_port  # noqa: E402

from embed_nb import api  # noqa: E402
from embed_nb.cache import EmbeddingCache  # noqa: E402
from embed_nb.datasets import short_texts  # noqa: E402
from embed_nb.distributed import _client, _runner  # noqa: E402
from embed_nb.distributed import dask_client as resolve_client  # noqa: E402
from embed_nb.engine import LocalModel  # noqa: E402
from embed_nb.errors import (  # noqa: E402
    ClusterError,
    EmbedNbError,
    InvalidInputError,
    ModelNotFoundError,
)
from embed_nb.jobs import JOB_PART  # noqa: E402


def _shared_conftest() -> Any:
    """This folder's conftest (its module name, "conftest", is not unique in sys.modules)."""
    path = Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("embed_nb_test_distributed_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _shared_conftest()
CRASH_MARKER: str = _shared.CRASH_MARKER
N_WORKERS: int = _shared.N_WORKERS
wait_until = _shared.wait_until


PART_KEY = r"embed_nb-[0-9a-f]{8}-\d+"


class SubmitSpy:
    """Wraps ``client.submit`` to record what the kernel sends: (key, texts) per task."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        submit = client.submit

        def spy(func: Any, spec: Any, texts: list[str], *args: Any, **kwargs: Any) -> Any:
            self.sent.append((str(kwargs.get("key")), list(texts)))
            return submit(func, spec, texts, *args, **kwargs)

        monkeypatch.setattr(client, "submit", spy)

    def parts(self) -> list[tuple[str, list[str]]]:
        """The job's parts as first sent (not a part sent again, nor the one-text tasks that
        look for a culprit)."""
        return [(key, texts) for key, texts in self.sent if re.fullmatch(PART_KEY, key)]


def scheduler_has(client: Any, keys: set[str]) -> list[str]:
    """Which of ``keys`` the scheduler still knows."""

    def known(dask_scheduler: Any) -> list[str]:  # runs on the scheduler
        return [str(key) for key in dask_scheduler.tasks if str(key) in keys]

    return list(client.run_on_scheduler(known))


def copy_cache(source: Path, dest: Path) -> EmbeddingCache:
    """A copy of a cache file as it is now (SQLite's own backup: the WAL included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return EmbeddingCache(dest)


def fitting(model: LocalModel, n: int) -> list[str]:
    """``n`` real texts that fit the tiny models' 128-token context."""
    texts = [t for t in short_texts(n + 200) if len(model.tokenize(t)) <= model.max_tokens]
    assert len(texts) >= n
    return texts[:n]


@pytest.fixture(scope="module")
def tiny(bert_mean_path: Path) -> Any:
    model = LocalModel(bert_mean_path)
    yield model
    model.close()


# --- a worker killed mid-job ---------------------------------------------------------------


@pytest.mark.integration
def test_a_worker_killed_mid_job_loses_and_repeats_no_row(
    dask_client: Any, default_model: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = short_texts(3 * JOB_PART)
    expected = api.embed(
        texts, model=default_model, cache=EmbeddingCache(tmp_path / "k.sqlite"), progress=False
    )
    spy = SubmitSpy(dask_client, monkeypatch)
    killed: dict[str, Any] = {}

    def kill_a_busy_worker(done: int, total: int) -> None:
        if killed:
            return
        ours = {key for key, _ in spy.parts()}
        busy = {
            worker: [str(k) for k in keys if str(k) in ours]
            for worker, keys in dask_client.processing().items()
        }
        worker, running = max(busy.items(), key=lambda item: len(item[1]))
        assert running, f"no worker runs a part of the job after {done} of {total}: {busy}"
        pid = dask_client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)
        killed.update(worker=worker, running=running, done=done, total=total)

    result = api.embed(
        texts, model=default_model, cache=False, cluster=dask_client, progress=kill_a_busy_worker
    )
    assert killed and killed["done"] < killed["total"] == len(texts), killed
    assert killed["worker"] not in dask_client.scheduler_info()["workers"]  # it did die
    assert result.texts == texts
    assert np.array_equal(np.asarray(result), np.asarray(expected))  # every row, in place
    assert result.token_counts == expected.token_counts
    keys = [key for key, _ in spy.parts()]
    assert len(keys) == len(set(keys)) == 3  # each part sent once; Dask re-ran the lost one
    dask_client.wait_for_workers(N_WORKERS, timeout=60)


# --- an input that aborts the workers ------------------------------------------------------


def test_a_text_that_crashes_workers_fails_the_job_once_naming_it(
    dask_client: Any, tiny: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = fitting(tiny, 600)
    position = 417
    marked = f"a sentence with {CRASH_MARKER} in it"
    original, texts[position] = texts[position], marked
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    spy = SubmitSpy(dask_client, monkeypatch)

    with pytest.raises(ClusterError) as caught:
        api.embed(texts, model=tiny, cache=cache, cluster=dask_client, progress=False)
    message = str(caught.value)
    assert isinstance(caught.value, EmbedNbError)
    assert message.startswith(f"input {position}: this text crashed every worker process")
    assert repr(marked) in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    parts = spy.parts()
    assert [len(p) for _, p in parts] == [600 - 2 * JOB_PART, JOB_PART, JOB_PART]
    failed = next(p for _, p in parts if marked in p)
    # The cluster recovers: all its workers come back and a new job runs.
    dask_client.wait_for_workers(N_WORKERS, timeout=60)
    texts[position] = original
    expected = api.embed(
        texts, model=tiny, cache=copy_cache(tmp_path / "cache.sqlite", tmp_path / "k.sqlite")
    )
    again = api.embed(texts, model=tiny, cache=cache, cluster=dask_client, progress=False)
    assert again.texts == texts
    assert np.array_equal(np.asarray(again), np.asarray(expected))
    # The other parts were cached; nothing of the failed part was.
    assert again.extra["cache_hits"] == len(texts) - len(failed)
    cache.close()


def test_texts_queued_beside_the_crashing_one_are_not_blamed_nor_lost(
    tiny: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask counts every task queued on a worker that dies, not only the one it was running:
    on one worker of one thread (two tasks in hand), whatever waits behind the crashing text
    dies with it. With allowed-failures 0 one death is enough, so this is certain here."""
    monkeypatch.setattr(api, "JOB_PART", 2)
    # Parts (shortest first): ["Tiny.", "Small one."] and [marked, "an innocent..."]; the
    # longer part goes first, the marked text first within it, each one with a bystander.
    marked = f"{CRASH_MARKER}!"
    innocent = f"an innocent text queued behind it, {'x' * (len(marked) - 30)}"
    texts = ["Small one.", innocent, marked, "Tiny."]
    assert len("Small one.") < len(marked) < len(innocent)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
            env={_shared.CRASH_ENV: CRASH_MARKER},
            scheduler_kwargs={"allowed_failures": 0},
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as solo,
    ):
        spy = SubmitSpy(solo, monkeypatch)
        with pytest.raises(ClusterError) as caught:
            api.embed(texts, model=tiny, cache=cache, cluster=solo, progress=False)
        resent = [texts for key, texts in spy.sent if key.endswith("-2")]
    message = str(caught.value)
    assert message.startswith("input 2: this text crashed every worker process"), message
    assert repr(marked) in message
    # The short part died beside the marked one, was sent again and is cached; nothing of
    # the marked text's part is.
    again = api.embed(texts[:2] + texts[3:], model=tiny, cache=cache, progress=False)
    assert again.extra["cache_hits"] == 2
    assert resent == [["Tiny.", "Small one."]]
    cache.close()


# --- the model file, the scheduler, the model ----------------------------------------------


def test_a_model_file_the_workers_cannot_see_says_to_use_shared_storage(
    dask_client: Any, bert_mean_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "kernel-only.gguf"
    shutil.copyfile(bert_mean_path, copy)
    model = LocalModel(copy)
    try:
        copy.unlink()  # the kernel holds it; a worker that opens the path finds nothing
        with pytest.raises(ModelNotFoundError) as caught:
            api.embed(["one text", "another"], model=model, cache=False, cluster=dask_client)
        message = str(caught.value)
        assert "on worker tcp://127.0.0.1:" in message
        assert str(copy) in message
        assert "storage all workers share" in message
        assert model.embed(["still works in the kernel"]).vectors is not None
    finally:
        model.close()


def test_a_scheduler_that_does_not_answer_is_a_cluster_error(
    tiny: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(ClusterError) as caught:
        resolve_client(address, timeout=2)
    assert time.monotonic() - start < 8
    assert f"no Dask scheduler answers at {address} within 2 s" in str(caught.value)
    assert "dask scheduler" in str(caught.value)

    # The API says the same (with a shorter wait than the 10 s default, for the test's time).
    monkeypatch.setitem(_client.dask_client.__kwdefaults__, "timeout", 2.0)
    with pytest.raises(ClusterError, match="no Dask scheduler answers"):
        api.embed(["a text"], model=tiny, cache=False, cluster=address)
    with pytest.raises(InvalidInputError, match="tcp://host:8786"):
        api.embed(["a text"], model=tiny, cache=False, cluster="localhost")


def test_a_worker_whose_model_differs_fails_the_job_with_both_fingerprints(
    dask_client: Any, tiny: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "0123456789abcdef-f32"
    real_spec = _runner.job_spec

    def altered(model: Any, client: Any) -> Any:
        return dataclasses.replace(real_spec(model, client), fingerprint=other)

    monkeypatch.setattr(_runner, "job_spec", altered)
    with pytest.raises(ClusterError) as caught:
        api.embed(fitting(tiny, 300), model=tiny, cache=False, cluster=dask_client)
    message = str(caught.value)
    assert tiny.fingerprint in message and other in message
    assert "precision='exact'" in message


def test_cluster_of_the_wrong_kind_is_invalid_input(
    dask_client: Any, dask_cluster: Any, tiny: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInputError, match="not int"):
        api.embed(["a text"], model=tiny, cache=False, cluster=42)
    closed = distributed.Client(dask_cluster, set_as_default=False)
    closed.close()
    with pytest.raises(InvalidInputError, match="closed"):
        api.embed(["a text"], model=tiny, cache=False, cluster=closed)

    # cluster=True takes the notebook's default client; with none, the error says what to do.
    monkeypatch.setattr(distributed.client, "_global_clients", weakref.WeakValueDictionary())
    with pytest.raises(InvalidInputError, match=r"no Dask client in this kernel.*Client\(\)"):
        api.embed(["a text"], model=tiny, cache=False, cluster=True)
    with dask_client.as_current():
        result = api.embed(["a text"], model=tiny, cache=False, cluster=True)
    assert np.abs(np.asarray(result) - tiny.embed(["a text"]).vectors[0]).max() < 1e-5


# --- Ctrl-C, then run again ----------------------------------------------------------------


def test_ctrl_c_cancels_the_parts_and_a_rerun_finishes_from_the_cache(
    dask_client: Any, tiny: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = fitting(tiny, 2000)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    spy = SubmitSpy(dask_client, monkeypatch)

    def ctrl_c(done: int, total: int) -> None:
        raise KeyboardInterrupt  # as Jupyter's interrupt does, after the first part is in

    with pytest.raises(KeyboardInterrupt) as caught:
        api.embed(texts, model=tiny, cache=cache, cluster=dask_client, progress=ctrl_c)
    note = "\n".join(getattr(caught.value, "__notes__", []))
    found = re.search(r"interrupted after ([\d,]+) of 2,000 texts to embed; those are cached", note)
    assert found, note
    finished = int(found.group(1).replace(",", ""))
    assert 0 < finished < len(texts)
    keys = {key for key, _ in spy.parts()}
    assert len(keys) == 8
    # Nothing of the job is left on the cluster: not queued, not running, not held.
    wait_until(lambda: not scheduler_has(dask_client, keys), timeout=10)
    busy = [str(k) for ks in dask_client.processing().values() for k in ks]
    assert not keys & set(busy)

    # What the kernel alone would do from the same cache, for the exact vectors expected.
    expected = api.embed(
        texts, model=tiny, cache=copy_cache(tmp_path / "cache.sqlite", tmp_path / "k.sqlite")
    )
    spy.sent.clear()
    again = api.embed(texts, model=tiny, cache=cache, cluster=dask_client, progress=False)
    assert again.extra["cache_hits"] == finished
    sent = [text for _, part in spy.parts() for text in part]
    assert len(sent) == len(set(sent)) == len(texts) - finished  # the rest, each once
    assert again.texts == texts
    assert np.array_equal(np.asarray(again), np.asarray(expected))
    assert again.token_counts == expected.token_counts
    cache.close()
