"""embed_parquet on a real LocalCluster (2 worker processes) with the real MiniLM model: parquet
in, parquet out, parts written by the workers, resume, faults."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
dd = pytest.importorskip("dask.dataframe")

from conftest import CRASH_MARKER, N_WORKERS, kill_a_worker  # noqa: E402

from embed_nb.datasets import short_texts  # noqa: E402
from embed_nb.distributed import ParquetJob, embed_parquet  # noqa: E402
from embed_nb.errors import ClusterError, FileAccessError, InvalidInputError  # noqa: E402

DIM = 384
VECTOR_TYPE = pa.list_(pa.float32(), DIM)  # fixed_size_list<float32>[384]


class Corpus:
    """Parquet files of real texts with an id column (and a column nobody asks for)."""

    def __init__(self, folder: Path, texts: list[str], per_file: int, first_id: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        self.parts: list[tuple[list[int], list[str]]] = []
        for number, start in enumerate(range(0, len(texts), per_file)):
            chunk = texts[start : start + per_file]
            ids = list(range(first_id + start, first_id + start + len(chunk)))
            frame = pd.DataFrame({"doc_id": ids, "text": chunk, "extra": np.arange(len(chunk))})
            frame.to_parquet(folder / f"in-{number:02d}.parquet", index=False)
            self.parts.append((ids, chunk))
        self.reference: list[tuple[np.ndarray, list[int]]] = []

    @property
    def glob(self) -> str:
        return str(self.folder / "*.parquet")

    def embed_in_kernel(self, model: Any) -> None:
        """What the kernel's model gives for each part's texts, in one call per part."""
        for _, texts in self.parts:
            result = model.embed(texts)
            self.reference.append((result.vectors, list(result.token_counts)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, default_model: Any) -> Corpus:
    """2,000 real texts in 4 files of 500."""
    made = Corpus(tmp_path_factory.mktemp("big") / "in", short_texts(2000), 500, 1000)
    made.embed_in_kernel(default_model)
    return made


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, default_model: Any) -> Corpus:
    """320 real texts in 8 files of 40."""
    made = Corpus(tmp_path_factory.mktemp("small") / "in", short_texts(2400)[2000:2320], 40, 0)
    made.embed_in_kernel(default_model)
    return made


def part_files(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith("part."))


def check_parts(dest: Path, corpus: Corpus, *, id_column: str = "doc_id") -> None:
    """Every part: the input's rows once, in order, with the kernel's vectors; nothing else in
    dest but the parts and the metadata."""
    assert part_files(dest) == [f"part.{n:05d}.parquet" for n in range(len(corpus.parts))]
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith("part.")) == [
        "_embed_nb.json"
    ]
    for number, (ids, texts) in enumerate(corpus.parts):
        table = pq.read_table(dest / f"part.{number:05d}.parquet")
        assert table.column_names == [id_column, "embedding", "n_tokens"]
        assert table.schema.field("embedding").type == VECTOR_TYPE
        assert table.schema.field("n_tokens").type == pa.int32()
        kept = table.column(id_column).to_pylist()
        assert kept == (ids if id_column == "doc_id" else texts)
        vectors = table.column("embedding").combine_chunks().flatten().to_numpy()
        vectors = vectors.reshape(len(ids), DIM)
        expected, counts = corpus.reference[number]
        assert np.abs(vectors - expected).max() <= 1e-6
        assert table.column("n_tokens").to_pylist() == counts


def mtimes(dest: Path) -> dict[str, int]:
    return {name: (dest / name).stat().st_mtime_ns for name in part_files(dest)}


def test_round_trip_then_resume_runs_only_the_missing_part(
    dask_client: Any, default_model: Any, corpus: Corpus, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    job = embed_parquet(
        corpus.glob,
        dest,
        id_column="doc_id",
        model=default_model,
        client=dask_client,
        progress=False,
    )
    assert isinstance(job, ParquetJob)
    assert (job.parts, job.written, job.skipped, job.rows, job.dim) == (4, 4, 0, 2000, DIM)
    assert (job.model, job.fingerprint, job.dest) == (
        default_model.name,
        default_model.fingerprint,
        dest,
    )
    assert re.fullmatch(
        r"ParquetJob\('.*out': 4 parts, 4 written, 0 skipped, 2,000 rows, "
        r"all-minilm-l6-v2 \(384-d\), [\d.]+ s\)",
        repr(job),
    )
    check_parts(dest, corpus)
    # The metadata and temporary names are skipped by readers of the folder.
    assert pq.read_table(dest).num_rows == 2000
    assert dd.read_parquet(dest).shape[0].compute() == 2000

    before = mtimes(dest)
    (dest / "part.00002.parquet").unlink()
    again = embed_parquet(
        corpus.glob, dest, id_column="doc_id", model=default_model, client=dask_client
    )
    assert (again.parts, again.written, again.skipped, again.rows) == (4, 1, 3, 500)
    after = mtimes(dest)
    assert {n: after[n] for n in after if n != "part.00002.parquet"} == {
        n: before[n] for n in before if n != "part.00002.parquet"
    }
    check_parts(dest, corpus)


def test_resume_false_overwrites_every_part_and_drops_stale_ones(
    dask_client: Any, default_model: Any, small: Corpus, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    kwargs: dict[str, Any] = dict(id_column="doc_id", model=default_model, client=dask_client)
    embed_parquet(small.glob, dest, **kwargs)
    (dest / "part.00008.parquet").write_bytes((dest / "part.00000.parquet").read_bytes())
    before = mtimes(dest)
    job = embed_parquet(small.glob, dest, resume=False, **kwargs)
    assert (job.parts, job.written, job.skipped, job.rows) == (8, 8, 0, 320)
    after = mtimes(dest)
    assert all(after[name] > before[name] for name in after)
    check_parts(dest, small)  # part.00008 is gone, every row is there once


def test_a_worker_killed_mid_job_loses_and_repeats_nothing(
    dask_client: Any, default_model: Any, small: Corpus, tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_once(done: int, total: int) -> None:
        if not killed:
            killed.append(done)
            kill_a_worker(dask_client)

    job = embed_parquet(
        small.glob,
        tmp_path / "out",
        id_column="doc_id",
        model=default_model,
        client=dask_client,
        progress=kill_once,
    )
    assert killed and killed[0] < 8
    assert (job.written, job.rows) == (8, 320)
    check_parts(tmp_path / "out", small)


def test_ctrl_c_then_resume_gives_every_row_once(
    dask_client: Any, default_model: Any, small: Corpus, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    kwargs: dict[str, Any] = dict(id_column="doc_id", model=default_model, client=dask_client)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        embed_parquet(small.glob, dest, progress=interrupt, **kwargs)
    note = " ".join(getattr(caught.value, "__notes__", []))
    assert "interrupted after 1 of 8 parts were written" in note
    assert "resume=True" in note
    assert 1 <= len(part_files(dest)) < 8
    # The cluster is usable at once, and the resumed run only does what is missing.
    job = embed_parquet(small.glob, dest, **kwargs)
    assert job.written + job.skipped == 8 and job.skipped >= 1
    check_parts(dest, small)


def test_a_text_that_crashes_every_worker_is_named_and_its_part_not_written(
    dask_client: Any, default_model: Any, tmp_path: Path
) -> None:
    texts = short_texts(60)
    texts[27] = f"an ordinary start {CRASH_MARKER} and end"
    corpus = Corpus(tmp_path / "in", texts, 20, 100)  # the marker: part 1, doc_id 127
    dest = tmp_path / "out"
    kwargs: dict[str, Any] = dict(id_column="doc_id", model=default_model, client=dask_client)
    with pytest.raises(ClusterError) as caught:
        embed_parquet(corpus.glob, dest, **kwargs)
    message = str(caught.value)
    assert "part 1, row doc_id=127 (position 7 in the part)" in message
    assert "crashed every worker" in message
    assert "nothing was written for this part" in message
    assert part_files(dest) == ["part.00000.parquet", "part.00002.parquet"]
    for number in (0, 2):
        table = pq.read_table(dest / f"part.{number:05d}.parquet")
        assert table.column("doc_id").to_pylist() == corpus.parts[number][0]
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]

    # The cluster recovers; with the text fixed, resuming writes the missing part only.
    dask_client.wait_for_workers(N_WORKERS, timeout=60)
    texts[27] = "an ordinary start and end"
    fixed = Corpus(tmp_path / "fixed", texts, 20, 100)
    fixed.embed_in_kernel(default_model)
    os.replace(fixed.folder / "in-01.parquet", corpus.folder / "in-01.parquet")
    job = embed_parquet(corpus.glob, dest, **kwargs)
    assert (job.written, job.skipped, job.rows) == (1, 2, 20)
    fixed.folder = corpus.folder
    check_parts(dest, fixed)


def test_a_missing_text_column_or_file_is_a_clear_error(
    dask_client: Any, default_model: Any, tmp_path: Path
) -> None:
    pd.DataFrame({"doc_id": [1, 2], "body": ["a", "b"]}).to_parquet(tmp_path / "a.parquet")
    dest = tmp_path / "out"
    with pytest.raises(
        InvalidInputError,
        match=r"no column 'text' in '.*a\.parquet'; its columns are 'doc_id', "
        r"'body': pass text_column=",
    ):
        embed_parquet(tmp_path / "a.parquet", dest, model=default_model, client=dask_client)
    with pytest.raises(InvalidInputError, match="no column 'id'"):
        embed_parquet(
            tmp_path / "a.parquet",
            dest,
            text_column="body",
            id_column="id",
            model=default_model,
            client=dask_client,
        )
    with pytest.raises(FileAccessError, match="no file matches"):
        embed_parquet(tmp_path / "nothing-*.parquet", dest, model=default_model, client=dask_client)
    with pytest.raises(FileAccessError, match="no parquet file or folder"):
        embed_parquet(
            [tmp_path / "a.parquet", tmp_path / "b.parquet"],
            dest,
            model=default_model,
            client=dask_client,
        )
    assert not dest.exists()  # checked before anything is written or sent


def test_null_texts_name_the_part_and_rows(
    dask_client: Any, default_model: Any, tmp_path: Path
) -> None:
    texts: list[str | None] = list(short_texts(20))
    texts[13] = texts[16] = None
    corpus = Corpus(tmp_path / "in", texts, 10, 100)  # type: ignore[arg-type]
    dest = tmp_path / "out"
    with pytest.raises(InvalidInputError) as caught:
        embed_parquet(
            corpus.glob, dest, id_column="doc_id", model=default_model, client=dask_client
        )
    message = str(caught.value)
    assert "part 1: 2 of its 10 texts in column 'text' are null (rows doc_id=113, doc_id=116)" in (
        message
    )
    assert "dropna(subset=['text'])" in message
    assert "part.00001.parquet" not in part_files(dest)

    # Without an id column the rows are named by position; the advice works.
    frame = dd.read_parquet(corpus.glob).dropna(subset=["text"])
    with pytest.raises(InvalidInputError, match=r"are null \(positions 3, 6 in the part\)"):
        embed_parquet(corpus.glob, tmp_path / "out2", model=default_model, client=dask_client)
    job = embed_parquet(frame, tmp_path / "out3", model=default_model, client=dask_client)
    assert (job.parts, job.rows) == (2, 18)


def test_a_dask_dataframe_source(dask_client: Any, default_model: Any, tmp_path: Path) -> None:
    texts = short_texts(2400)[2320:2380]
    frame = pd.DataFrame({"text": texts, "n": range(60)})
    source = dd.from_pandas(frame, npartitions=3)
    dest = tmp_path / "out"
    job = embed_parquet(source, dest, model=default_model, client=dask_client, vector_column="vec")
    assert (job.parts, job.written, job.rows) == (3, 3, 60)
    for number, part in enumerate(source.to_delayed()):
        expected = list(part.compute()["text"])
        table = pq.read_table(dest / f"part.{number:05d}.parquet")
        assert table.column_names == ["text", "vec", "n_tokens"]  # the text identifies rows
        assert table.column("text").to_pylist() == expected
        vectors = table.column("vec").combine_chunks().flatten().to_numpy()
        assert (
            np.abs(vectors.reshape(-1, DIM) - default_model.embed(expected).vectors).max() <= 1e-6
        )


def test_resume_refuses_a_dest_made_another_way(
    dask_client: Any, default_model: Any, small: Corpus, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    source = [small.folder / "in-00.parquet", small.folder / "in-01.parquet"]
    embed_parquet(source, dest, model=default_model, client=dask_client)
    before = mtimes(dest)
    with pytest.raises(
        InvalidInputError,
        match=r"made another way \(request: .*'normalize': 2.* "
        r"there, .*'normalize': 1.* now\).*resume=False",
    ):
        embed_parquet(source, dest, model=default_model, client=dask_client, normalize=1)
    with pytest.raises(InvalidInputError, match="vector_column: 'embedding' there, 'vec' now"):
        embed_parquet(source, dest, model=default_model, client=dask_client, vector_column="vec")
    with pytest.raises(InvalidInputError, match="parts: 2 there, 3 now"):
        embed_parquet(
            [*source, small.folder / "in-02.parquet"], dest, model=default_model, client=dask_client
        )
    assert mtimes(dest) == before
    (dest / "_embed_nb.json").unlink()
    with pytest.raises(InvalidInputError, match=r"has part files but no _embed_nb\.json"):
        embed_parquet(source, dest, model=default_model, client=dask_client)
    with pytest.raises(InvalidInputError, match="overlap"):
        embed_parquet(small.folder, small.folder / "out", model=default_model, client=dask_client)


def test_refuses_models_without_pooled_vectors(
    bert_none_path: Path, reranker_path: Path, tmp_path: Path
) -> None:
    from embed_nb.engine import LocalModel

    for path, says in ((bert_none_path, "pools 'none'"), (reranker_path, "is a reranker")):
        with LocalModel(path) as model, pytest.raises(InvalidInputError, match=says):
            embed_parquet(tmp_path / "in.parquet", tmp_path / "out", model=model, client=None)


def test_write_part_needs_the_kernels_dest_and_writes_empty_parts(tmp_path: Path) -> None:
    """What a worker does, run here: no model is needed for an empty partition."""
    from embed_nb.distributed import WorkerSpec
    from embed_nb.distributed._parquet import _Layout, write_part

    layout = _Layout("text", "doc_id", "doc_id", "embedding", DIM, (("normalize", 2),), "job")
    spec = WorkerSpec("local", str(tmp_path / "no-model.gguf"), (), "no-fingerprint")
    empty = pd.DataFrame({"doc_id": pd.Series([], dtype="int64"), "text": pd.Series([], dtype=str)})
    path = tmp_path / "part.00000.parquet"
    with pytest.raises(FileAccessError, match=r"does not see _embed_nb\.json in .* share"):
        write_part(spec, empty, str(path), 0, layout)
    (tmp_path / "_embed_nb.json").write_text("{}")
    assert write_part(spec, empty, str(path), 0, layout) == 0
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.field("embedding").type == VECTOR_TYPE
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
