"""``embed-nb parquet``: :func:`embed_nb.distributed.embed_parquet` from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import InvalidInputError
from ._commands import connected, load, write
from ._parser import _UsageError


def parquet_command(args: argparse.Namespace) -> None:
    from ..engine.normalize import check_normalize

    if args.embd_normalize is not None:
        try:  # fail before the (slow) model load and the connection
            check_normalize(args.embd_normalize)
        except InvalidInputError as error:
            raise _UsageError(str(error).replace("normalize=", "--embd-normalize ", 1)) from None
    from ..distributed import embed_parquet

    with connected(args.cluster) as client, load(args) as model:
        job = embed_parquet(
            args.source,
            args.dest,
            text_column=args.text_column,
            id_column=args.id_column,
            model=model,
            client=client,
            resume=args.resume,
            normalize=args.embd_normalize,
            truncate=args.truncate,
            chunk=args.chunk,
            # A bar on a terminal's stderr; none in a log file.
            progress=None if sys.stderr.isatty() else False,
        )
    summary = _summary(job)
    if args.json:
        write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    else:
        write(
            f"{summary['dest']}: {summary['parts']} parts ({summary['written']} written with "
            f"{summary['rows']:,} rows, {summary['skipped']} already there), "
            f"{summary['dim']}-dimensional float32 vectors from {summary['model']} "
            f"(fingerprint {summary['fingerprint']}), {summary['seconds']:.1f} s\n"
        )


def _summary(job: Any) -> dict[str, Any]:
    """The job's summary as plain values."""
    fields = ("dest", "parts", "written", "skipped", "rows", "dim", "model", "fingerprint")
    summary: dict[str, Any] = {name: getattr(job, name) for name in (*fields, "seconds")}
    summary["dest"] = os.fspath(summary["dest"])
    return summary
