"""``embed-nb``'s entry point: run a command, turn errors into one line and an exit status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ..display import one_line
from ..errors import EmbedNbError, InputTooLongError, InvalidInputError, ModelNotFoundError
from ..files import describe
from ._commands import info_command, rerank_command
from ._dedup import cluster_command, dedup_command
from ._doctor import doctor_command
from ._embed import embed_command
from ._parquet import parquet_command
from ._parser import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, PROG, _UsageError, build_parser
from ._search import search_command


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``embed-nb`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse's --help and usage errors; a status is more testable
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    commands: dict[str, Callable[[argparse.Namespace], None]] = {
        "embed": embed_command,
        "rerank": rerank_command,
        "parquet": parquet_command,
        "info": info_command,
        "dedup": dedup_command,
        "cluster": cluster_command,
        "doctor": doctor_command,
        "search": search_command,
    }
    try:
        commands[args.command](args)
        sys.stdout.flush()
    except InputTooLongError as error:
        # The engine's message names its Python arguments; say it in flags here.
        return _fail(
            f"input {error.index} has {error.n_tokens} tokens, more than the limit of "
            f"{error.limit}; pass --truncate to cut it"
            + (" or --chunk to embed it in windows" if args.command == "embed" else "")
            + ", or a larger -c/--ctx-size if the model allows it",
            EXIT_USAGE,
        )
    except (_UsageError, InvalidInputError, ModelNotFoundError) as error:
        return _fail(str(error), EXIT_USAGE)
    except EmbedNbError as error:
        return _fail(str(error), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly.
        _drop_stdout()
        return EXIT_FAILURE
    except OSError as error:
        # Mostly stdout itself failing (a full disk, /dev/full); say so in one line.
        _drop_stdout()
        return _fail(f"cannot write the output: {describe(error, writing=True)}", EXIT_FAILURE)
    except Exception as error:  # a bug: one line, and the way to see the whole story
        if os.environ.get("EMBED_NB_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(error).__name__}: {error} (set EMBED_NB_DEBUG=1 for the "
            "traceback, and please report it)",
            EXIT_FAILURE,
        )
    return 0


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so Python's exit-time flush of what is still buffered cannot
    fail again (on a closed pipe or a full disk) and print a traceback after our message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to protect
        pass


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return status
