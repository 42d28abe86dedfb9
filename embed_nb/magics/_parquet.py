"""``%embed_parquet``: bound into :class:`EmbedMagics`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._parsers import _PARQUET
from ._parsing import _friendly, _split

if TYPE_CHECKING:
    from .._core import EmbedMagics


@_friendly
def embed_parquet(self: EmbedMagics, line: str) -> Any:
    """Embed a parquet corpus on a Dask cluster, part by part, straight to parquet files.

    Usage::

        %embed_parquet SOURCE DEST [--text-column C] [--id-column C] [-m MODEL]
                       [--cluster [ADDRESS|VAR]] [--no-resume] [-o NAME]
                       [--normalize N] [--truncate | --chunk]

    SOURCE is a parquet file, a folder of them or a glob (``data/*.parquet``; ``{var}`` puts
    a Python variable's value in the line). DEST is a folder: one output part per input
    part, under fixed names, with the vectors in a ``fixed_size_list<float32>`` column
    beside the id column (``--id-column``). The vectors never come back to the kernel, so the
    corpus may be larger than its memory. A run again fills in only the parts DEST lacks;
    ``--no-resume`` embeds them all again. ``--cluster`` alone, or left out, is the
    notebook's default Dask client; ``--cluster client`` a Client or cluster in a variable,
    ``--cluster tcp://host:8786`` a scheduler. Returns the job's summary (a ``ParquetJob``);
    ``-o NAME`` keeps it.
    """
    from ..distributed import embed_parquet as run

    args = _PARQUET.parse(_split(line, "%embed_parquet"), self._is_cluster_word)
    client = self._cluster(args.cluster)
    job = run(
        args.source,
        args.dest,
        text_column=args.text_column,
        id_column=args.id_column,
        model=self._model(args.model),
        client=None if client is True else client,
        resume=args.resume,
        normalize=args.normalize,
        truncate=args.truncate,
        chunk=args.chunk,
    )
    self._store(args.out, job)
    return job
