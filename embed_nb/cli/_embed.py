"""``embed-nb embed``: the API's vectors, laid out the way llama-embedding prints them."""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError
from ..files import atomic_write
from ._commands import connected, load, write
from ._formats import Printed, format_output
from ._parser import PROG, _UsageError
from ._quantized import check_quantize_args, write_quantized
from ._texts import gather_texts

if TYPE_CHECKING:
    from ._commands import Model


def embed_command(args: argparse.Namespace) -> None:
    from ..engine.normalize import check_normalize

    try:  # fail before the (slow) model load
        mode = check_normalize(2 if args.embd_normalize is None else args.embd_normalize)
    except InvalidInputError as error:
        raise _UsageError(str(error).replace("normalize=", "--embd-normalize ", 1)) from None
    if not args.cls_separator:
        raise _UsageError("--cls-separator must not be empty")
    texts = gather_texts(args.inputs, args.embd_separator)
    if args.output is not None:
        _check_output(args.output)
    check_quantize_args(args)
    pooling = {"pooling": args.pooling} if args.pooling else {}
    with connected(args.cluster) as client, load(args, **pooling) as model:
        if model.is_reranker and args.embd_normalize is None:
            # Deliberately unlike llama-embedding: it L2-normalises a lone score to +-1 (or 0),
            # which says nothing; raw scores are what its own CI asks for (-1).
            mode = -1
        printed = _embed_rows(model, texts, mode, args, client)
    if args.quantize is not None:
        shown = write_quantized(printed, args)
        if shown is not None:
            write(shown)
        return
    if args.output is not None:
        # Atomic: a failed write (full disk, ulimit -f) leaves an older file whole.
        with atomic_write(args.output) as handle:
            # Through Python's own write: numpy's tofile() on a file object ignores a short
            # write (seen with ulimit -f), and would leave a truncated file without an error.
            handle.write(_npy_bytes(printed.rows))
        n, d = printed.rows.shape
        print(f"{PROG}: saved {n} x {d} float32 embeddings to {args.output}", file=sys.stderr)
    fmt = args.embd_output_format
    if fmt is None:
        fmt = None if args.output is not None else ""
    if fmt is not None:
        write(format_output(printed, fmt))


def _npy_bytes(rows: np.ndarray) -> bytes:
    """The ``.npy`` file of ``rows``, as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, rows)
    return buffer.getvalue()


def _check_output(path: str) -> None:
    """Refuse an output path that cannot work before the (slow) model load."""
    if not path.endswith(".npy"):
        raise _UsageError(f"-o {path}: the output file must end in .npy")
    if os.path.isdir(path):
        raise _UsageError(f"-o {path}: that is a directory; give a file name ending in .npy")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _UsageError(f"-o {path}: the directory {directory} does not exist; create it first")


def _embed_rows(
    model: Model, texts: list[Any], mode: int, args: argparse.Namespace, client: object = None
) -> Printed:
    """Run the API on the texts and lay out the rows llama-embedding would print; with a
    Dask ``client``, the cluster's workers embed them (in the job's fixed parts)."""
    if model.is_reranker and any(isinstance(t, str) and args.cls_separator in t for t in texts):
        if client is not None:
            raise _UsageError(
                "--cluster embeds texts; a reranker's query/document pairs are scored here: "
                "leave out --cluster"
            )
        rows = _pair_scores(model, texts, mode, args)
    else:
        if client is None and args.embd_prompt is None and args.dim is None:
            result: Any = model.embed(
                texts, normalize=mode, truncate=args.truncate, chunk=args.chunk
            )
        else:
            from ..api import embed

            result = embed(
                texts,
                model=model,
                normalize=mode,
                truncate=args.truncate,
                chunk=args.chunk,
                cache=False,
                progress=False,
                cluster=client,
                prompt=args.embd_prompt,
                dim=args.dim,
            )
        if result.token_vectors is not None:
            # llama-embedding normalises every token vector too (the API leaves them raw, as
            # llama-server does), so apply the engine's own normalisation here.
            from ..engine.normalize import normalize

            rows = normalize(np.concatenate(result.token_vectors), mode)
        else:
            rows = np.asarray(result, dtype=np.float32).reshape(len(texts), -1)
    labels = []
    if model.is_reranker:
        known = model.info.classifier_labels
        labels = known if len(known) == rows.shape[1] else [str(i) for i in range(rows.shape[1])]
    shown = [t if isinstance(t, str) else t.label for t in texts]  # an image by its label
    return Printed(rows, shown, model.pooling, mode, labels)


def _pair_scores(model: Model, texts: list[str], mode: int, args: argparse.Namespace) -> np.ndarray:
    """Score ``query<SEP>document`` prompts with ``model.rerank``, one call per distinct query."""
    from ..engine.normalize import normalize

    by_query: dict[str, list[tuple[int, str]]] = {}
    for i, text in enumerate(texts):
        parts = text.split(args.cls_separator)
        if len(parts) != 2:
            raise _UsageError(
                f"text {i} must be one query and one document joined by the --cls-separator "
                f"{args.cls_separator!r}; it has {len(parts)} parts"
            )
        by_query.setdefault(parts[0], []).append((i, parts[1]))
    scores = np.zeros((len(texts), 1), dtype=np.float32)
    for query, items in by_query.items():
        result = model.rerank(query, [doc for _, doc in items], truncate=args.truncate)
        for hit in result.hits:
            scores[items[hit.index][0], 0] = hit.score
    return normalize(scores, mode)  # llama-embedding normalises scores like any embedding
