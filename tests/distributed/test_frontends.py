"""The front ends on a real LocalCluster: ``--cluster`` on the magics, ``%embed_parquet``, and
``embed-nb embed --cluster`` / ``embed-nb parquet``, on the tiny BERT (every worker loads it from
the same path as the kernel).

What the API does on a cluster (order, faults, parity) is tested in test_cluster_*.py and
test_parquet.py; here, that each front end reaches it with the right arguments and says what
went wrong in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import DOCS, configured, run
from ports import free_port

distributed = pytest.importorskip("distributed", reason="needs the dask extra")
pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

from embed_nb import api, registry  # noqa: E402
from embed_nb.cli import main  # noqa: E402
from embed_nb.distributed import load_counts  # noqa: E402
from embed_nb.magics import _EMBED_LINE, _SEARCH  # noqa: E402
from embed_nb.magics._parsing import _options_then_text  # noqa: E402
from embed_nb.results import Embeddings, Projection, SearchResult  # noqa: E402


@pytest.fixture
def ip(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bert_mean_path: Path,
    dask_client: Any,
) -> Iterator[InteractiveShell]:
    names = {"client": dask_client, "v": None, "job": None, "p": None, "num": None}
    with configured(shell, tmp_path, monkeypatch, bert_mean_path, **names) as configured_shell:
        yield configured_shell


def fails(ip: InteractiveShell, source: str) -> str:
    result = ip.run_cell(source, store_history=False)
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    line = str(result.error_in_exec)
    assert "\n" not in line
    return line


def in_kernel(texts: list[str]) -> np.ndarray:
    return np.asarray(api.embed(texts, model=registry.REGISTRY.get(None), cache=False))


def kernel_must_not_embed(*args: object, **kwargs: object) -> None:
    raise AssertionError("the kernel's model embedded; the cluster's workers should have")


# --- which word after --cluster is its value ---------------------------------------------


def test_the_word_after_cluster_is_its_value_only_when_it_names_one() -> None:
    def is_value(word: str) -> bool:  # what EmbedMagics._is_cluster_word says in a namespace
        return word in ("client", "tcp://h:8786", "h:8786")

    def parsed(line: str) -> tuple[object, str | None]:
        args, text = _options_then_text(line, _EMBED_LINE, is_value)
        return args.cluster, text

    assert parsed("--cluster The cat sat") == (True, "The cat sat")
    assert parsed("--cluster client The cat") == ("client", "The cat")
    assert parsed("--cluster tcp://h:8786 the cat") == ("tcp://h:8786", "the cat")
    assert parsed("--cluster -- client") == (True, "client")
    assert parsed("--cluster=anything the cat") == ("anything", "the cat")
    assert parsed("the cat") == (None, "the cat")
    args, _ = _options_then_text("-v docs --cluster", _EMBED_LINE, is_value)
    assert (args.var, args.cluster) == ("docs", True)
    # Positional magics: a bare --cluster does not swallow the query.
    search = _SEARCH.parse(["--cluster", "cats", "docs"], is_value)
    assert (search.cluster, search.query, search.corpus) == (True, "cats", "docs")
    search = _SEARCH.parse(["--cluster", "client", "cats", "docs", "-k", "2"], is_value)
    assert (search.cluster, search.query, search.k) == ("client", "cats", 2)


# --- the magics on the cluster -------------------------------------------------------------


def test_embed_magic_runs_on_the_cluster_a_variable_names(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = in_kernel(DOCS)
    monkeypatch.setattr(registry.REGISTRY.get(None), "embed", kernel_must_not_embed)
    result = run(ip, "%embed -v docs --cluster client -o v")
    assert isinstance(result, Embeddings) and ip.user_ns["v"] is result
    assert result.texts == DOCS and result.extra["cache_hits"] == 0
    np.testing.assert_allclose(np.asarray(result), expected, atol=1e-6)
    counts = ip.user_ns["client"].run(load_counts)
    assert all(n == 1 for worker in counts.values() for n in worker.values()), counts
    cell = run(ip, "%%embed --cluster client\nthe cat sits on the mat\na new text")
    assert cell.extra["cache_hits"] == 1  # the kernel's cache answered the first text
    np.testing.assert_allclose(np.asarray(cell)[0], np.asarray(result)[0], atol=1e-6)


def test_bare_cluster_is_the_notebooks_default_client(
    ip: InteractiveShell, dask_cluster: Any, corpus: Path, tmp_path: Path
) -> None:
    with distributed.Client(dask_cluster, set_as_default=True) as default:
        assert distributed.default_client() is default
        result = run(ip, "%embed --cluster The cat sat on the mat")
        assert result.texts == ["The cat sat on the mat"] and result.shape == (32,)
        by_address = run(ip, f"%embed -v docs --cluster {dask_cluster.scheduler_address}")
        np.testing.assert_allclose(np.asarray(by_address), in_kernel(DOCS), atol=1e-6)
        # %embed_parquet always runs on a cluster: without --cluster, the default client.
        job = run(ip, f"%embed_parquet {corpus} {tmp_path / 'out'}")
        assert (job.written, job.rows) == (2, 4)


def test_search_and_map_magics_embed_their_corpus_on_the_cluster(ip: InteractiveShell) -> None:
    found = run(ip, '%embed_search --cluster client "a pet on a rug" docs -k 2')
    assert isinstance(found, SearchResult) and len(found.hits) == 2
    expected = api.search("a pet on a rug", DOCS, 2, model=registry.REGISTRY.get(None))
    assert [hit.index for hit in found.hits] == [hit.index for hit in expected.hits]
    projection = run(ip, "%embed_map docs --static --cluster client -o p")
    assert isinstance(ip.user_ns["p"], Projection) and len(ip.user_ns["p"]) == len(DOCS)
    del projection


def test_cluster_mistakes_are_one_line(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = fails(ip, "%embed -v docs --cluster=clinet")
    assert "'clinet'" in line and "tcp://host:8786" in line
    ip.user_ns["num"] = 5
    line = fails(ip, "%embed -v docs --cluster num")
    assert "cluster must be a dask.distributed Client" in line and "int" in line
    monkeypatch.setattr(distributed.client, "_global_clients", {})  # no default client
    line = fails(ip, "%embed -v docs --cluster")
    assert "no Dask client in this kernel" in line
    line = fails(ip, "%embed_parquet in.parquet out --cluster=nohost")
    assert "'nohost'" in line


# --- %embed_parquet ------------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two parquet files of two texts each, with an id column."""
    folder = tmp_path / "in"
    folder.mkdir()
    for number in range(2):
        rows = DOCS[2 * number : 2 * number + 2]
        frame = pd.DataFrame({"doc_id": [10 * number, 10 * number + 1], "text": rows})
        frame.to_parquet(folder / f"in-{number}.parquet", index=False)
    return folder


def read_parts(dest: Path) -> pd.DataFrame:
    parts = sorted(dest.glob("part.*.parquet"))
    return pd.concat([pq.read_table(part).to_pandas() for part in parts], ignore_index=True)


def test_embed_parquet_magic_writes_resumes_and_starts_over(
    ip: InteractiveShell, corpus: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    ip.user_ns["source"] = str(corpus / "*.parquet")
    job = run(ip, f"%embed_parquet {{source}} {dest} --id-column doc_id --cluster client -o job")
    assert ip.user_ns["job"] is job
    assert (job.parts, job.written, job.skipped, job.rows) == (2, 2, 0, 4)
    assert job.dim == 32 and job.model == "bert-mean"
    written = read_parts(dest)
    assert list(written["doc_id"]) == [0, 1, 10, 11]
    np.testing.assert_allclose(np.stack(written["embedding"]), in_kernel(DOCS), atol=1e-6)
    again = run(ip, f"%embed_parquet {{source}} {dest} --id-column doc_id --cluster client")
    assert (again.written, again.skipped) == (0, 2)
    over = run(ip, f"%embed_parquet {{source}} {dest} --id-column doc_id --no-resume "
               "--cluster client")  # fmt: skip
    assert (over.written, over.skipped) == (2, 0)
    assert len(read_parts(dest)) == 4
    ip.user_ns.pop("source")


def test_embed_parquet_magic_errors_are_one_line(
    ip: InteractiveShell, corpus: Path, tmp_path: Path
) -> None:
    line = fails(ip, f"%embed_parquet {corpus} {tmp_path / 'out'} --text-column body "
                 "--cluster client")  # fmt: skip
    assert "body" in line
    assert "DEST" in fails(ip, "%embed_parquet only-a-source --cluster client").upper()


# --- the CLI --------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_embed_on_a_cluster_prints_the_same_vectors(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, dask_client: Any
) -> None:
    address = dask_client.scheduler_info()["address"]
    base = ["embed", "-m", bert_mean_path, "--embd-output-format", "array"]
    for text in DOCS:
        base += ["-p", text]
    status, here, err = cli(capsys, *base)
    assert status == 0, err
    status, there, err = cli(capsys, *base, "--cluster", address)
    assert status == 0, err
    np.testing.assert_allclose(json.loads(there), json.loads(here), atol=1e-5)


def test_cli_parquet_prints_the_jobs_summary(
    capsys: pytest.CaptureFixture[str],
    bert_mean_path: Path,
    dask_client: Any,
    corpus: Path,
    tmp_path: Path,
) -> None:
    address = dask_client.scheduler_info()["address"]
    dest = tmp_path / "out"
    argv = ["parquet", corpus, dest, "--id-column", "doc_id", "-m", bert_mean_path, "-t", "1"]
    status, out, err = cli(capsys, *argv, "--cluster", address)
    assert status == 0, err
    assert out.startswith(f"{dest}: 2 parts (2 written with 4 rows, 0 already there), 32-dim")
    status, out, err = cli(capsys, *argv, "--cluster", address, "--json")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["dest"] == str(dest) and (summary["written"], summary["skipped"]) == (0, 2)
    assert list(read_parts(dest)["doc_id"]) == [0, 1, 10, 11]


def test_cli_cluster_mistakes_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], bert_mean_path: Path, corpus: Path, tmp_path: Path
) -> None:
    status, _, err = cli(capsys, "parquet", corpus, tmp_path / "out", "-m", bert_mean_path)
    assert status == 2 and "--cluster" in err and err.count("\n") == 1
    status, _, err = cli(capsys, "embed", "-p", "a", "-m", bert_mean_path, "--cluster", "nohost")
    assert status == 2 and "tcp://host:8786" in err and err.count("\n") == 1
    # Nothing listens there: said before the model loads (after the 10 s connect timeout).
    address = f"tcp://127.0.0.1:{free_port()}"
    argv = ["embed", "-p", "a", "-m", "/nonexistent.gguf", "--cluster", address]
    status, _, err = cli(capsys, *argv)
    assert status == 2 and f"no Dask scheduler answers at {address}" in err, err
    assert err.count("\n") == 1
