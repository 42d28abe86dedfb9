"""``embed-nb embed --quantize P``: the packed vectors instead of the float ones."""

from __future__ import annotations

import argparse
import io
import json
import sys

import numpy as np

from ..errors import InvalidInputError
from ..files import atomic_write
from ._formats import Printed
from ._parser import PROG, _UsageError


def check_quantize_args(args: argparse.Namespace) -> None:
    """Refuse what a quantised output cannot do, before the (slow) model load."""
    if args.calibration is not None and args.quantize not in ("int8", "uint8"):
        raise _UsageError("--calibration sets int8/uint8 buckets; add --quantize int8 or uint8")
    if args.quantize is not None and args.embd_output_format == "json+":
        raise _UsageError(
            "--quantize with json+: the cosine matrix is of float vectors; use json, or drop "
            "--quantize"
        )


def write_quantized(printed: Printed, args: argparse.Namespace) -> str | None:
    """Quantise the printed rows, save them (and an int8/uint8 file's ranges) to ``-o``, and
    return what stdout shows (None when it stays empty)."""
    from ..quantize import quantize_array

    if printed.pooling == "rank":
        raise _UsageError("--quantize needs embeddings; a reranker's scores are not vectors")
    calibration = None
    if args.calibration is not None:
        try:
            calibration = np.load(args.calibration, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise _UsageError(f"--calibration {args.calibration}: {error}") from None
    try:
        packed, ranges = quantize_array(printed.rows, args.quantize, calibration=calibration)
    except InvalidInputError as error:
        raise _UsageError(
            str(error).replace(
                "pass calibration= vectors (say, the corpus) or ranges= an earlier result's "
                ".ranges",
                "pass --calibration FILE.npy (float vectors, say the corpus saved with -o)",
            )
        ) from None
    d = printed.rows.shape[1]
    if args.output is not None:
        with atomic_write(args.output) as handle:
            handle.write(_npy_bytes(packed))
        saved = f"{PROG}: saved {packed.shape[0]} x {packed.shape[1]} {packed.dtype} "
        saved += f"({args.quantize}) embeddings to {args.output}"
        if ranges is not None:
            # A query must be bucketed with the corpus' ranges to be compared with it.
            ranges_path = args.output[: -len(".npy")] + ".ranges.npy"
            with atomic_write(ranges_path) as handle:
                handle.write(_npy_bytes(ranges))
            saved += f", their ranges to {ranges_path}"
        print(saved, file=sys.stderr)
    fmt = args.embd_output_format
    if fmt is None:
        fmt = None if args.output is not None else ""
    if fmt is None:
        return None
    rows = packed.astype(np.int64).tolist()
    if fmt == "raw":
        return "".join(" ".join(map(str, row)) + "\n" for row in rows) + "\n"
    if fmt == "array":
        return json.dumps(rows, separators=(",", ":")) + "\n\n"
    if fmt == "json":
        data = [{"object": "embedding", "index": j, "embedding": r} for j, r in enumerate(rows)]
        body = {"object": "list", "precision": args.quantize, "data": data}
        return json.dumps(body, indent=2) + "\n\n"
    per_vector = packed.shape[1] * packed.itemsize
    lines = ["", *(f"embedding {j}: " + " ".join(map(str, r[:16])) for j, r in enumerate(rows))]
    lines.append(
        f"{args.quantize}: {per_vector:,} bytes per vector vs {4 * d:,} as float32 "
        f"({4 * d / per_vector:g}x smaller)"
    )
    return "\n".join(lines) + "\n\n"


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
