"""``embed-nb dedup`` and ``embed-nb cluster``: near-duplicate pairs and communities of texts,
printed as CSV (the default) or JSON. Thin: they call :func:`embed_nb.paraphrases` and
:func:`embed_nb.communities`, with the same option names."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidInputError
from ._commands import connected, load, write
from ._parser import (
    _add_cluster_option,
    _add_fit_options,
    _add_model_options,
    _UsageError,
    add_text_inputs,
)
from ._texts import gather_texts


def _add_texts(parser: argparse.ArgumentParser) -> None:
    add_text_inputs(parser, "texts")  # as `embed-nb embed` takes them
    parser.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="csv (the default, with a header) or json (a list of objects)",
    )


def add_dedup_commands(commands: Any) -> None:
    """Add ``dedup`` and ``cluster`` to the ``embed-nb`` sub-commands."""
    dedup = commands.add_parser(
        "dedup",
        help="near-duplicate pairs of texts (sentence-transformers' paraphrase mining)",
        description="Print the pairs of texts whose cosine is at least --threshold, among each "
        "text's --top-k nearest, best first: i, j (0-based positions, i < j), score, text_i, "
        "text_j.",
        allow_abbrev=False,
    )
    _add_texts(dedup)
    dedup.add_argument("--threshold", type=float, default=0.9, help="least cosine (default 0.9)")
    dedup.add_argument("--top-k", type=int, default=100, help="neighbours per text (default 100)")
    dedup.add_argument("--max-pairs", type=int, default=500_000, help="most pairs printed")
    _add_fit_options(dedup)
    _add_cluster_option(dedup, required=False)
    _add_model_options(dedup)

    cluster = commands.add_parser(
        "cluster",
        help="communities of texts around a centre (sentence-transformers' community detection)",
        description="Print one row per member of each community, largest first: community, "
        "size, index, is_centre, score (cosine to the centre), text.",
        allow_abbrev=False,
    )
    _add_texts(cluster)
    cluster.add_argument(
        "--threshold", type=float, default=0.75, help="least cosine to the centre (default 0.75)"
    )
    cluster.add_argument("--min-size", type=int, default=10, help="fewest members (default 10)")
    _add_fit_options(cluster)
    _add_cluster_option(cluster, required=False)
    _add_model_options(cluster)


def _texts(args: argparse.Namespace) -> list[str]:
    texts = gather_texts(args.inputs, args.embd_separator)
    if len(texts) < 2:
        raise _UsageError(f"{args.command} needs at least 2 texts, not {len(texts)}")
    return texts


def _print(frame: Any, fmt: str) -> None:
    if fmt == "json":
        write(frame.to_json(orient="records", force_ascii=False) + "\n")
    else:
        write(frame.to_csv(index=False, lineterminator="\n"))


def _as_flags(error: InvalidInputError) -> _UsageError:
    """The API's message, with its argument names spelled as flags."""
    message = str(error)
    for name, option in (("top_k", "--top-k"), ("max_pairs", "--max-pairs")):
        message = message.replace(name, option)
    return _UsageError(
        message.replace("min_size", "--min-size").replace("threshold", "--threshold")
    )


def dedup_command(args: argparse.Namespace) -> None:
    from ..dedup import checked_positive, paraphrases

    def check() -> None:
        checked_positive(args.top_k, "top_k")
        checked_positive(args.max_pairs, "max_pairs")

    _run(args, paraphrases, check, top_k=args.top_k, max_pairs=args.max_pairs)


def cluster_command(args: argparse.Namespace) -> None:
    from ..dedup import checked_positive, communities

    _run(
        args,
        communities,
        lambda: checked_positive(args.min_size, "min_size"),
        min_size=args.min_size,
    )


def _run(args: argparse.Namespace, job: Any, check: Any, **own: Any) -> None:
    """Check the options (before the slow model load), then run ``job`` on the texts with
    the options both commands share and ``own``, and print its frame."""
    from ..dedup import checked_threshold

    try:
        checked_threshold(args.threshold)
        check()
    except InvalidInputError as error:
        raise _as_flags(error) from None
    texts = _texts(args)
    with connected(args.cluster) as client, load(args) as model:
        frame = job(
            texts,
            threshold=args.threshold,
            **own,
            model=model,
            cache=False,
            progress=False,
            truncate=args.truncate,
            chunk=args.chunk,
            cluster=client,
        )
    _print(frame, args.format)
