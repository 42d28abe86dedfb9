"""``embed-nb search``: semantic search of a corpus file, optionally reranked.

The same code path as :func:`embed_nb.search` (and ``%embed_search``): the embedding model
(``-m``) retrieves ``-k`` hits, and ``--rerank SOURCE`` (a reranker GGUF, path or URL) reorders
them and keeps the best ``--top-n``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..flags import add_search_options
from ._commands import load, write
from ._parser import _add_model_options, _UsageError, add_documents
from ._texts import gather_documents

__all__ = ["add_search_command", "search_command"]


def add_search_command(commands: Any) -> None:
    """Register ``search`` on the ``embed-nb`` sub-command parsers."""
    search = commands.add_parser(
        "search",
        help="the K corpus documents closest to a query (cosine), optionally reranked",
        description="Search a corpus (documents given or read from files) for a query with "
        "an embedding model; --rerank reorders the K hits with a reranker and keeps --top-n. "
        "Prints the hits, or JSON records with --json.",
        allow_abbrev=False,
    )
    search.add_argument("query", metavar="QUERY")
    add_documents(search, "corpus documents")
    search.add_argument("-k", type=int, default=5, metavar="K", help="hits to retrieve (5)")
    reranker = "a reranker (.gguf path, hf://..., or llama-server URL) to reorder the K hits"
    add_search_options(search, ("SOURCE", reranker))
    search.add_argument("--json", action="store_true", help="print the hits as JSON records")
    _add_model_options(search)


def search_command(args: argparse.Namespace) -> None:
    documents = gather_documents(args)
    if not documents:
        raise _UsageError("no corpus to search: give documents after the query or -f FILE")
    if args.rerank is None and (args.top_n is not None or args.rerank_fallback is not None):
        raise _UsageError("--top-n and --rerank-fallback apply only with --rerank SOURCE")
    from .. import load_model
    from ..api import search

    with load(args) as model:
        reranker = None if args.rerank is None else load_model(args.rerank)
        try:
            result = search(
                args.query,
                documents,
                args.k,
                model=model,
                cache=False,
                progress=False,
                rerank=reranker,
                top_n=args.top_n,
                rerank_fallback=args.rerank_fallback,
                quantize=args.quantize,
                rescore_multiplier=args.rescore_multiplier,
            )
        finally:
            if reranker is not None:
                reranker.close()
    if args.json:
        write(json.dumps(_records(result), indent=2, ensure_ascii=False) + "\n")
        return
    from ..display import search_text
    from ..retrieval import RerankedSearchResult, reranked_text

    shown = reranked_text(result) if isinstance(result, RerankedSearchResult) else None
    write((shown or search_text(result)) + "\n")


def _records(result: Any) -> list[dict[str, Any]]:
    """One JSON object per hit: rank, index, score, document, and after a rerank the
    retrieval's cosine and cosine_rank."""
    records = []
    for hit in result.hits:
        record = {"rank": hit.rank, "index": hit.index, "score": hit.score}
        if hasattr(hit, "cosine"):
            record.update(cosine=hit.cosine, cosine_rank=hit.cosine_rank)
        records.append({**record, "document": hit.document})
    return records
