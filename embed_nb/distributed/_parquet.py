"""Parquet in, parquet out, on a Dask cluster: corpora larger than the kernel's memory.

:func:`embed_parquet` reads the text (and id) column of a parquet dataset with
``dask.dataframe``, and each worker embeds one input partition and writes it straight to
``dest/part.NNNNN.parquet``: the kernel never holds a vector, only a row count per part. Part
names are fixed by the partition's number, and each file is written under a temporary name and
renamed, so a part that runs twice (a worker died, a re-run) replaces its file instead of
adding rows, and ``resume=True`` runs only the parts whose file is missing.

``dest/_embed_nb.json`` says how the parts were made (model, request, columns, number of parts);
a resume that would mix other vectors into the same directory is refused. Dask and pyarrow skip
files whose names start with ``_`` or ``.``, so ``dask.dataframe.read_parquet(dest)`` reads the
parts alone.

:func:`write_part` is what a worker runs; like :mod:`._worker` this module imports nothing heavy
at module level.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.protocol import EmbeddingModel, ModelArg, resolve_model
from ..errors import ClusterError, EmbedNbError, FileAccessError, InvalidInputError
from ..progress import Progress, ProgressArg
from ..request import EmbedRequest
from ._client import dask_client, import_distributed
from ._runner import culprit, job_spec
from ._spec import WorkerSpec
from ._worker import embed_texts

__all__ = ["METADATA_FILE", "ParquetJob", "embed_parquet", "part_name", "write_part"]

#: The file in ``dest`` that says how its parts were made.
METADATA_FILE = "_embed_nb.json"
_FORMAT = 1
_PART = re.compile(r"part\.(\d{5,})\.parquet")
_TEMP_PREFIX = ".embed_nb-tmp-"
#: How many row ids an error about bad rows names.
_SHOWN = 5


def part_name(number: int) -> str:
    """The output file of input partition ``number``."""
    return f"part.{number:05d}.parquet"


@dataclass(frozen=True)
class ParquetJob:
    """What :func:`embed_parquet` did.

    Attributes:
        dest: the output directory.
        parts: input partitions, one output file each.
        written: parts embedded and written by this run.
        skipped: parts left as they were (their file was there; ``resume=True``).
        rows: rows written by this run.
        dim: vector size.
        model: the model's name.
        fingerprint: the model's fingerprint.
        seconds: wall time of the run.
    """

    dest: Path
    parts: int
    written: int
    skipped: int
    rows: int
    dim: int
    model: str
    fingerprint: str
    seconds: float

    def __repr__(self) -> str:
        return (
            f"ParquetJob({str(self.dest)!r}: {self.parts} parts, {self.written} written, "
            f"{self.skipped} skipped, {self.rows:,} rows, {self.model} ({self.dim}-d), "
            f"{self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class _Layout:
    """What every part's task needs besides its rows (sent to the workers)."""

    text_column: str
    keep_column: str  # the id column, else the text column: rows stay identifiable
    id_column: str | None
    vector_column: str
    dim: int
    options: tuple[tuple[str, Any], ...]
    job: str  # names this run's temporary files


def embed_parquet(
    source: object,
    dest: str | os.PathLike[str],
    *,
    text_column: str = "text",
    id_column: str | None = None,
    model: ModelArg = None,
    client: object = None,
    resume: bool = True,
    normalize: int | None = None,
    truncate: bool = False,
    chunk: bool = False,
    vector_column: str = "embedding",
    progress: ProgressArg = None,
) -> ParquetJob:
    """Embed a parquet dataset's texts on a Dask cluster, part by part, into parquet files.

    Each input partition (a file, or a piece of a large one, as ``dask.dataframe`` splits
    them) becomes ``dest/part.NNNNN.parquet``, written by a worker, with the id column (the
    text column when no id column is given), ``vector_column`` as
    ``fixed_size_list<float32>[d]`` and ``n_tokens`` (int32), rows in the input's order. The
    kernel holds no vectors, so the corpus may be larger than its memory.

    Args:
        source: a parquet file or directory, a glob (``"corpus/*.parquet"``), a list of paths,
            or a ``dask.dataframe.DataFrame`` (e.g. ``dd.read_parquet(...).dropna(...)``).
        dest: the output directory, created if missing. Every worker writes there, so on a
            real cluster it must be storage the kernel and all workers share.
        text_column: the column of texts.
        id_column: a column that identifies rows, copied beside each vector.
        model: a loaded model, the name of one, or None for the current model (as in
            :func:`embed_nb.embed`). Workers load their own copy (see
            :mod:`embed_nb.distributed`).
        client: a ``distributed.Client``, a cluster object, a scheduler address, or None
            for the notebook's default client.
        resume: keep the parts already in ``dest`` and run only the missing ones; refused if
            ``dest`` was written with another model, request or columns. False: start over
            (the parts in ``dest`` are removed first).
        normalize, truncate, chunk: as in :func:`embed_nb.embed`.
        vector_column: the name of the vector column.
        progress: as in :func:`embed_nb.embed`, counted in parts.

    Returns:
        A :class:`ParquetJob` saying how many parts and rows were written.

    Raises:
        InvalidInputError: a missing column, null or non-text texts in a part, a reranker or
            per-token model, or a ``dest`` made another way.
        ClusterError: a text crashed every worker that embedded it (its row is named), or a
            worker wrote where the kernel cannot see.
        FileAccessError: the source or ``dest`` cannot be read or written.
        KeyboardInterrupt: the job's tasks are cancelled; the parts already written stay, and
            running it again with ``resume=True`` continues (the exception carries a note).
    """
    from ..arguments import flag

    started = time.perf_counter()
    truncate, chunk, resume = (
        flag(truncate, "truncate"),
        flag(chunk, "chunk"),
        flag(resume, "resume"),
    )
    columns = _check_columns(text_column, id_column, vector_column)
    if normalize is None:
        from ..settings import SETTINGS

        normalize = SETTINGS.normalize
    chosen = _vector_model(resolve_model(model))
    request = EmbedRequest(normalize=normalize, truncate=truncate, chunk=chunk).for_pooling(
        chosen.pooling
    )
    distributed = import_distributed()
    dask_cl = dask_client(client)
    if not isinstance(dest, str | os.PathLike):
        raise InvalidInputError(f"dest must be a folder path, not {type(dest).__name__}")
    # Absolute: the workers' working directories need not be the kernel's.
    out = Path(os.fspath(dest)).expanduser().absolute()
    frame = _read(source, columns, out)
    parts = frame.to_delayed(optimize_graph=False)  # frame is optimised: its partitions are fixed
    layout = _Layout(
        text_column=text_column,
        keep_column=id_column if id_column is not None else text_column,
        id_column=id_column,
        vector_column=vector_column,
        dim=int(chosen.n_embd),
        options=tuple(request.options().items()),
        job=uuid.uuid4().hex[:8],
    )
    metadata = _metadata(chosen, request, layout, len(parts))
    _prepare(out, metadata, resume)
    todo = [n for n in range(len(parts)) if not (resume and (out / part_name(n)).exists())]
    spec = job_spec(chosen, dask_cl)

    import dask

    job = layout.job
    task = dask.delayed(write_part, pure=False)
    delayed = [
        task(
            spec,
            parts[n],
            os.fspath(out / part_name(n)),
            n,
            layout,
            dask_key_name=f"embed_nb-parquet-{job}-{n}",
        )
        for n in todo
    ]
    # Each future is let go as soon as it is counted, so that a worker lost later does not
    # make Dask run (and write) a finished part again.
    pending: dict[Any, int] = {}
    written = rows = 0
    with Progress(len(todo), progress, desc="embed_parquet", unit="part") as bar:
        try:
            if delayed:
                pending = dict(zip(dask_cl.compute(delayed), todo, strict=True))
            for future in distributed.as_completed(list(pending), loop=dask_cl.loop):
                number = pending.pop(future)
                try:
                    rows += future.result()
                except distributed.KilledWorker:
                    dask_cl.cancel(list(pending))  # stop the job before looking for the text
                    raise _crashed(dask_cl, spec, parts[number], number, layout) from None
                finally:
                    future.release()
                written += 1
                bar.update(written)
        except KeyboardInterrupt as interrupt:
            interrupt.add_note(
                f"embed_parquet: interrupted after {written} of {len(todo)} parts were written "
                f"to {out} ({len(parts) - len(todo)} were there before); they stay: run it "
                "again with resume=True (the default) to embed only the missing parts"
            )
            raise
        finally:  # done, failed or interrupted: nothing of this job stays on the cluster
            if pending:
                dask_cl.cancel(list(pending))
            _remove_temporaries(out, job)
    return ParquetJob(
        dest=out,
        parts=len(parts),
        written=written,
        skipped=len(parts) - len(todo),
        rows=rows,
        dim=layout.dim,
        model=chosen.name,
        fingerprint=chosen.fingerprint,
        seconds=time.perf_counter() - started,
    )


# --- on a worker -----------------------------------------------------------------------------


def write_part(spec: WorkerSpec, frame: Any, path: str, number: int, layout: _Layout) -> int:
    """Embed one input partition (a pandas DataFrame) and write it to ``path``, atomically:
    under a temporary name in the same directory, then renamed. Returns the number of rows.

    Runs on a Dask worker.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory, name = os.path.split(path)
    if not os.path.exists(os.path.join(directory, METADATA_FILE)):
        # The kernel wrote it before sending any task: this worker sees another directory.
        raise FileAccessError(
            f"worker {_worker_address()} does not see {METADATA_FILE} in {directory}, which the "
            "kernel wrote there: dest must be a directory that the kernel and every worker "
            "share (an NFS or cluster file system)"
        )
    texts = list(frame[layout.text_column])
    _check_texts(texts, frame, number, layout)
    if texts:
        rows, counts = embed_texts(spec, texts, dict(layout.options))
        vectors = np.ascontiguousarray(np.asarray(rows, dtype=np.float32))
    else:
        vectors, counts = np.zeros((0, layout.dim), dtype=np.float32), []
    if vectors.shape != (len(texts), layout.dim):
        raise ClusterError(
            f"part {number}: the worker's model gave vectors of shape {vectors.shape}, not "
            f"({len(texts)}, {layout.dim})"
        )
    table = pa.Table.from_pandas(frame[[layout.keep_column]], preserve_index=False)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    table = table.append_column(
        layout.vector_column, pa.FixedSizeListArray.from_arrays(flat, layout.dim)
    ).append_column("n_tokens", pa.array(counts, type=pa.int32()))
    temporary = os.path.join(directory, f"{_TEMP_PREFIX}{layout.job}-{name}.{uuid.uuid4().hex}")
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except OSError as error:
        _unlink(temporary)
        raise FileAccessError(
            f"on worker {_worker_address()}: could not write part {number} to {path} "
            f"({error.strerror or error}): dest must be a directory that every worker can "
            "write, on storage the kernel shares"
        ) from None
    return len(texts)


def _check_texts(texts: list[Any], frame: Any, number: int, layout: _Layout) -> None:
    bad = [k for k, text in enumerate(texts) if not isinstance(text, str)]
    if not bad:
        return
    nulls = sum(1 for k in bad if _is_null(texts[k]))
    if layout.id_column is not None:
        ids = list(frame[layout.id_column].iloc[bad[:_SHOWN]])
        shown = "rows " + ", ".join(f"{layout.id_column}={ident!r}" for ident in ids)
    else:
        shown = "positions " + ", ".join(str(k) for k in bad[:_SHOWN]) + " in the part"
    more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    if nulls == len(bad):
        what = "null"
    else:
        example = next(texts[k] for k in bad if not _is_null(texts[k]))
        what = f"null or not str ({nulls} null, others such as a {type(example).__name__})"
    column = layout.text_column
    raise InvalidInputError(
        f"part {number}: {len(bad)} of its {len(texts)} texts in column {column!r} are {what} "
        f"({shown}{more}); nothing was written for it. Drop them "
        f"(df = dd.read_parquet(...).dropna(subset=[{column!r}])) or fill them "
        f"(.fillna({{{column!r}: ''}})) and pass that dask DataFrame as the source"
    )


def _is_null(value: object) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (ImportError, TypeError, ValueError):
        return False


def _worker_address() -> str:
    from ._worker import _worker_address as address

    return address()


# --- in the kernel ---------------------------------------------------------------------------


def _check_columns(text_column: object, id_column: object, vector_column: object) -> list[str]:
    for name, value in (("text_column", text_column), ("vector_column", vector_column)):
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name} must be a column name (a str), not {value!r}")
    if id_column is not None and (not isinstance(id_column, str) or not id_column):
        raise InvalidInputError(
            f"id_column must be a column name (a str) or None, not {id_column!r}"
        )
    assert isinstance(text_column, str) and isinstance(vector_column, str)
    keep = id_column if isinstance(id_column, str) else text_column
    if vector_column in (keep, "n_tokens") or keep == "n_tokens":
        raise InvalidInputError(
            f"the output's columns would be {keep!r}, {vector_column!r} and 'n_tokens': "
            "give them distinct names (vector_column=, id_column=)"
        )
    return [text_column] if keep == text_column else [keep, text_column]


def _vector_model(model: EmbeddingModel) -> EmbeddingModel:
    if model.is_reranker or model.pooling == "rank":
        raise InvalidInputError(
            f"{model.name} is a reranker (pooling 'rank'): it gives relevance scores, not "
            "embeddings; embed_parquet needs an embedding model"
        )
    if model.pooling == "none":
        raise InvalidInputError(
            f"{model.name} pools 'none' (a matrix per text), which a parquet vector column "
            "cannot hold: load it with pooling='mean' (or cls/last)"
        )
    return model


def _read(source: object, columns: list[str], dest: Path) -> Any:
    """The source's needed columns as an optimised dask DataFrame: its partitions are the
    parts, fixed before any task is made."""
    try:
        import dask.dataframe as dd
    except ImportError:
        raise InvalidInputError(
            "embed_parquet needs dask.dataframe: pip install 'embed_nb[dask]'"
        ) from None
    if isinstance(source, dd.DataFrame):
        frame, what = source, "the dask DataFrame"
    else:
        paths = _source_paths(source, dest)
        what = repr(paths[0]) if len(paths) == 1 else f"the {len(paths)} files"
        try:
            frame = dd.read_parquet(paths[0] if len(paths) == 1 else paths)
        except (OSError, ValueError) as error:
            raise FileAccessError(
                f"could not read parquet from {what}: {_dask_message(error)}"
            ) from None
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        have = ", ".join(repr(str(name)) for name in frame.columns) or "none"
        index = getattr(frame.index, "name", None)
        also = f" (and the index {index!r}, which is not a column)" if index else ""
        raise InvalidInputError(
            f"no column {' or '.join(map(repr, missing))} in {what}; its columns are "
            f"{have}{also}: pass text_column= (and id_column=) naming one of them"
        )
    import dask

    # Dask's tuning may merge partitions when few columns are read: keep the source's own
    # partitions (what the user sees as df.npartitions), one output part each.
    with dask.config.set({"optimization.tune.active": False}):
        return frame[columns].optimize()


def _source_paths(source: object, dest: Path) -> list[str]:
    if isinstance(source, str | os.PathLike):
        given = [os.fspath(source)]
    elif (
        isinstance(source, list | tuple)
        and source
        and all(isinstance(item, str | os.PathLike) for item in source)
    ):
        given = [os.fspath(item) for item in source]
    else:
        raise InvalidInputError(
            "source must be a parquet path, a glob, a list of paths or a dask DataFrame, not "
            f"{type(source).__name__}"
            + (
                " (for a pandas DataFrame: dask.dataframe.from_pandas(df, npartitions=...), "
                "or embed_nb.embed for what fits in memory)"
                if type(source).__name__ == "DataFrame"
                else ""
            )
        )
    paths: list[str] = []
    for path in given:
        if "://" in path:  # s3://, gcs://...: dask reads them, and says what is wrong
            paths.append(path)
            continue
        path = os.path.expanduser(path)
        if glob.has_magic(path):
            from dask.utils import natural_sort_key

            matched = sorted(glob.glob(path), key=natural_sort_key)  # in dask's order
            if not matched:
                raise FileAccessError(f"no file matches {path!r}: check the pattern and folder")
            paths.extend(matched)
        elif os.path.exists(path):
            paths.append(path)
        else:
            raise FileAccessError(f"no parquet file or folder at {path!r}")
    resolved = dest.resolve()
    for path in paths:
        if "://" in path:
            continue
        given_path = Path(path).resolve()
        if (
            given_path == resolved
            or given_path in resolved.parents
            or resolved in given_path.parents
        ):
            raise InvalidInputError(
                f"the source {path!r} and dest {str(dest)!r} overlap: the output parts would "
                "be read as input next time; choose a dest outside the source"
            )
    return paths


def _dask_message(error: BaseException) -> str:
    text = str(error)
    marker = "Original Message:"
    return text.split(marker, 1)[1].strip() if marker in text else text


def _metadata(
    model: EmbeddingModel, request: EmbedRequest, layout: _Layout, parts: int
) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "model": model.name,
        "fingerprint": model.fingerprint,
        "pooling": model.pooling,
        "dim": layout.dim,
        "request": request.options(),
        "text_column": layout.text_column,
        "id_column": layout.id_column,
        "vector_column": layout.vector_column,
        "parts": parts,
    }


#: What must agree for a resumed run to add to the parts already there.
_MUST_AGREE = (
    "format",
    "fingerprint",
    "pooling",
    "dim",
    "request",
    "text_column",
    "id_column",
    "vector_column",
    "parts",
)


def _prepare(dest: Path, metadata: dict[str, Any], resume: bool) -> None:
    """Make ``dest`` ready: with ``resume``, check that its parts were made the same way;
    without, remove them. Then write the metadata."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        existing = [entry for entry in dest.iterdir() if _PART.fullmatch(entry.name)]
        for entry in dest.iterdir():
            if entry.name.startswith(_TEMP_PREFIX):  # left by a worker killed mid-write
                _unlink(entry)
    except OSError as error:
        raise FileAccessError(
            f"cannot use {str(dest)!r} as the output directory ({error.strerror or error})"
        ) from None
    marker = dest / METADATA_FILE
    if resume:
        before = _read_metadata(marker)
        if before is None and existing:
            raise InvalidInputError(
                f"{str(dest)!r} has part files but no {METADATA_FILE}, so nothing says how "
                "they were made: choose another dest, or pass resume=False to replace them"
            )
        if before is not None:
            differ = [key for key in _MUST_AGREE if before.get(key) != metadata[key]]
            if differ:
                said = "; ".join(
                    f"{key}: {before.get(key)!r} there, {metadata[key]!r} now" for key in differ
                )
                raise InvalidInputError(
                    f"{str(dest)!r} holds parts made another way ({said}), and resuming would "
                    "mix them: choose another dest, or pass resume=False to replace them"
                )
            return
    try:
        for entry in existing:
            entry.unlink()
        temporary = dest / f"{_TEMP_PREFIX}{METADATA_FILE}.{uuid.uuid4().hex}"
        temporary.write_text(json.dumps(metadata, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, marker)
    except OSError as error:
        raise FileAccessError(
            f"cannot write in {str(dest)!r} ({error.strerror or error})"
        ) from None


def _read_metadata(marker: Path) -> dict[str, Any] | None:
    try:
        text = marker.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise FileAccessError(f"cannot read {str(marker)!r} ({error.strerror or error})") from None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"{str(marker)!r} is not embed_nb's metadata: choose another dest, or pass "
            "resume=False to start over there"
        )
    return value


def _crashed(
    client: Any, spec: WorkerSpec, part: Any, number: int, layout: _Layout
) -> EmbedNbError:
    """The error for a part whose workers kept dying: its texts (this part only) come to the
    kernel, and each runs alone on the cluster to find the one that does it."""
    frame = client.compute(part).result()
    texts = list(frame[layout.text_column])
    error, position = _checked_culprit(client, spec, texts, dict(layout.options))
    if position is None:
        return type(error)(
            f"part {number}: {error}. Dask counts a worker's death against every task it held, "
            "so this part may only have waited beside another part's text that crashes "
            "workers: the parts written so far stay, so run it again with resume=True, and "
            "if the same part fails again, look at the workers' memory"
        )
    if layout.id_column is not None:
        ident = frame[layout.id_column].iloc[position : position + 1].tolist()[0]
        row = f"row {layout.id_column}={ident!r}"
    else:
        row = "row"
    return type(error)(
        f"part {number}, {row} (position {position} in the part); nothing was written for "
        f"this part: {error}"
    )


def _checked_culprit(
    client: Any, spec: WorkerSpec, texts: list[str], options: dict[str, Any]
) -> tuple[EmbedNbError, int | None]:
    """:func:`~._runner.culprit`, with the text it names run once more with nothing else of
    ours on the cluster. Dask counts a worker's death against every task the worker held,
    queued ones too, so a harmless text that waited beside the crashing one on the same
    worker each time can be the one given up first; if the named text passes alone, the
    search goes on without it."""
    distributed = import_distributed()
    left = list(range(len(texts)))
    while True:
        error, found = culprit(client, spec, [texts[k] for k in left], options)
        if found is None:
            return error, None
        position = left[found]
        alone = client.submit(
            embed_texts,
            spec,
            [texts[position]],
            options,
            key=f"embed_nb-confirm-{uuid.uuid4().hex[:8]}",
        )
        try:
            alone.result()
        except distributed.KilledWorker:
            return error, position
        except Exception:  # it fails without crashing: not what killed the workers
            pass
        finally:
            alone.release()
        left.remove(position)


def _remove_temporaries(dest: Path, job: str) -> None:
    """Remove what this job's tasks left half written (a task cancelled or killed mid-write)."""
    with contextlib.suppress(OSError):
        for entry in dest.glob(f"{_TEMP_PREFIX}{job}-*"):
            _unlink(entry)


def _unlink(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
