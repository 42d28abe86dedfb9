"""Loading the model the flags name, connecting to a Dask scheduler, and the ``rerank`` and
``info`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..flags import given_options, local_only_flags
from ._parser import LOAD_OPTIONS, PROMPT_OPTIONS, _UsageError
from ._texts import gather_documents

if TYPE_CHECKING:
    from ..engine import LocalModel
    from ..engine.remote import RemoteModel

    Model = LocalModel | RemoteModel


def load(args: argparse.Namespace, **extra: Any) -> Model:
    """Load the model the flags name; only options actually given reach the engine."""
    from .. import load_model
    from ..loading import is_remote_source

    local = given_options(args, [o for o in LOAD_OPTIONS if o not in PROMPT_OPTIONS])
    if local and is_remote_source(args.model):
        raise _UsageError(
            f"{local_only_flags(LOAD_OPTIONS[:4])} set up a local model (as do "
            f"{local_only_flags(LOAD_OPTIONS[4:])}); a server URL takes none of them"
        )
    prompts = given_options(args, PROMPT_OPTIONS)
    return load_model(args.model, **extra, **local, **prompts)


@contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """The Dask client for ``--cluster ADDRESS`` (None without it), closed at the end. Made
    before the (slow) model load: a scheduler that does not answer is a mistake in the
    command line."""
    if address is None:
        yield None
        return
    from ..distributed import dask_client
    from ..errors import ClusterError

    try:
        client = dask_client(address)
    except ClusterError as error:
        raise _UsageError(f"--cluster {address}: {error}") from None
    try:
        yield client
    finally:
        client.close()


def write(text: str) -> None:
    sys.stdout.write(text)


def rerank_command(args: argparse.Namespace) -> None:
    documents = gather_documents(args)
    if not documents:
        raise _UsageError("no documents to rank: give them after the query or with -f FILE")
    if args.top_n is not None and args.top_n < 0:
        raise _UsageError(f"--top-n must be 0 or more, not {args.top_n}")
    from ..api import rerank

    with load(args) as model:
        # The API's rerank: a reranker's own scores, or cosine ranking for an embedding model.
        result = rerank(
            args.query,
            documents,
            top_n=args.top_n,
            model=model,
            truncate=args.truncate,
            cache=False,
            instruction=args.instruction,
        )
    write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")


def info_command(args: argparse.Namespace) -> None:
    with load(args) as model:
        info = model.info
    if args.json:
        write(json.dumps(info.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        write(repr(info) + "\n")
