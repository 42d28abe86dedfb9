"""``%embed_dedup`` and ``%embed_cluster``: bound into :class:`EmbedMagics`; their parsers.

Thin front ends over :func:`embed_nb.paraphrases` and :func:`embed_nb.communities`: they
parse, call the API and return its DataFrame (which the notebook shows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..settings import SETTINGS
from ._parsers import _cluster_option
from ._parsing import _friendly, _Parser, _split

if TYPE_CHECKING:
    from ._core import EmbedMagics


def _common(parser: _Parser, what: str) -> _Parser:
    parser.add_argument("data", help="a variable: texts, Embeddings or an array of vectors")
    parser.add_argument("--column", help="the text column when the variable is a DataFrame")
    parser.add_argument("-o", "--out", help=f"store the DataFrame of {what} in this variable")
    parser.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
    fit = parser.add_mutually_exclusive_group()
    fit.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
    fit.add_argument("--chunk", action="store_true", help="embed long texts in windows, averaged")
    return _cluster_option(parser)


_DEDUP = _common(_Parser("%embed_dedup"), "pairs")
_DEDUP.add_argument(
    "--threshold", type=float, default=0.9, help="least cosine of a pair (default 0.9)"
)
_DEDUP.add_argument(
    "--top-k", dest="top_k", type=int, default=100, help="neighbours per text (default 100)"
)
_DEDUP.add_argument(
    "--max-pairs", dest="max_pairs", type=int, default=500_000, help="most pairs kept"
)

_CLUSTER = _common(_Parser("%embed_cluster"), "members")
_CLUSTER.add_argument(
    "--threshold", type=float, default=0.75, help="least cosine to the centre (default 0.75)"
)
_CLUSTER.add_argument(
    "--min-size", dest="min_size", type=int, default=10, help="fewest members (default 10)"
)


@_friendly
def embed_dedup(self: EmbedMagics, line: str) -> Any:
    """Near-duplicate pairs of texts (or vectors), best first, as a DataFrame.

    Usage::

        %embed_dedup VAR [--threshold T] [--top-k K] [--max-pairs N] [--column C] [-o NAME]
                     [-m MODEL] [--truncate|--chunk] [--cluster [ADDRESS|VAR]]

    VAR holds texts (embedded through the cache), Embeddings or an array of vectors. See
    :func:`embed_nb.paraphrases`.
    """
    from ..dedup import paraphrases

    return _over_variable(
        self,
        line,
        "%embed_dedup",
        _DEDUP,
        paraphrases,
        lambda args: {"top_k": args.top_k, "max_pairs": args.max_pairs},
    )


@_friendly
def embed_cluster(self: EmbedMagics, line: str) -> Any:
    """Communities of texts around a centre (sentence-transformers' community detection),
    largest first, one DataFrame row per member.

    Usage::

        %embed_cluster VAR [--threshold T] [--min-size M] [--column C] [-o NAME] [-m MODEL]
                       [--truncate|--chunk] [--cluster [ADDRESS|VAR]]

    See :func:`embed_nb.communities`.
    """
    from ..dedup import communities

    def own(args: Any) -> dict[str, Any]:
        return {"min_size": args.min_size}

    return _over_variable(self, line, "%embed_cluster", _CLUSTER, communities, own)


def _over_variable(
    self: EmbedMagics,
    line: str,
    prog: str,
    parser: Any,
    job: Callable[..., Any],
    own_options: Callable[[Any], dict[str, Any]],
) -> Any:
    """Parse ``line``, run ``job`` on the variable it names with the options both magics share
    and ``own_options(args)``, store the result under ``-o``."""
    args = parser.parse(_split(line, prog), self._is_cluster_word)
    cluster = self._cluster(args.cluster)
    data = self._variable(args.data, "VAR")
    result = job(
        data,
        threshold=args.threshold,
        **own_options(args),
        model=self._model_for_inputs(args.model, data),
        cache=self._cache(),
        progress=SETTINGS.progress_threshold,
        column=args.column,
        truncate=args.truncate,
        chunk=args.chunk,
        cluster=cluster,
    )
    self._store(args.out, result)
    return result
