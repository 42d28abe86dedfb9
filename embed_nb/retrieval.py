"""Search then rerank: the embedding model retrieves ``k`` hits, a reranker orders them.

The retrieve-then-rerank pattern of sentence-transformers' retrieve & re-rank examples
(a bi-encoder for recall over the whole corpus, a cross-encoder for precision over its top
hits): :func:`embed_nb.search` with ``rerank=`` builds a :class:`RerankPlan` before anything
is embedded (so a wrong reranker fails at once), runs its usual search, then hands only the
``k`` hits to the reranker and keeps the best ``top_n``. Each hit keeps both scores: the
reranker's (``score``, by which the hits are ordered) and the cosine that retrieved it.

A model that is not a reranker is refused, unless ``rerank_fallback="cosine"`` asks for the
hits to be reordered by that model's cosine similarity instead (a second bi-encoder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .engine.inputs import check_top_n
from .engine.protocol import EmbeddingModel, ModelArg, resolve_model
from .errors import InputTooLongError, InvalidInputError, NotARerankerError
from .results import RerankResult, SearchHit, SearchResult

__all__ = [
    "RERANK_FALLBACKS",
    "RerankPlan",
    "RerankedHit",
    "RerankedSearchResult",
    "rerank_plan",
    "reranked",
    "reranked_text",
]

#: What ``rerank_fallback=`` accepts: ``"cosine"`` reorders by a non-reranker's cosine.
RERANK_FALLBACKS = ("cosine",)


@dataclass(frozen=True)
class RerankedHit(SearchHit):
    """A search hit after reranking: ``score`` is the reranker's, ``cosine`` the retrieval's."""

    cosine: float = math.nan  # the embedding model's cosine similarity to the query
    cosine_rank: int = 0  # its place among the k retrieved hits (1 = the closest)


@dataclass(frozen=True, eq=False)
class RerankedSearchResult(SearchResult):
    """The ``top_n`` of the ``k`` retrieved hits, in the reranker's order, best first.

    ``score`` (and :attr:`scores`) are the reranker's; each hit's ``cosine`` and
    ``cosine_rank`` say how the embedding model had found it.
    """

    hits: list[RerankedHit]  # type: ignore[assignment]  # narrower than SearchResult's
    reranker: str = ""
    rerank_method: str = "rank"  # "rank": a cross-encoder's RANK score; "cosine": fallback
    candidates: int = 0  # how many hits the reranker scored (the search's k, or fewer)
    rerank_tokens: int = 0

    @property
    def cosines(self) -> list[float]:
        return [hit.cosine for hit in self.hits]

    def to_pandas(self) -> Any:
        """A DataFrame: ``rank``, ``index``, ``score`` (the reranker's), ``cosine``,
        ``cosine_rank``, ``document``."""
        frame = super().to_pandas()
        frame.insert(3, "cosine", self.cosines)
        frame.insert(4, "cosine_rank", [hit.cosine_rank for hit in self.hits])
        return frame

    def __repr__(self) -> str:
        return (
            f"RerankedSearchResult(query={self.query!r}, model={self.model!r}, "
            f"reranker={self.reranker!r}, hits={len(self.hits)}, candidates={self.candidates}, "
            f"corpus_size={self.corpus_size})"
        )

    def _repr_html_(self) -> str:
        return _reranked_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(reranked_text(self))


@dataclass(frozen=True)
class RerankPlan:
    """A checked ``rerank=`` request, made before the search embeds anything."""

    reranker: EmbeddingModel
    top_n: int | None
    fallback: str | None

    def apply(self, result: SearchResult, *, cache: Any = True) -> RerankedSearchResult:
        """Rerank ``result``'s hits (and only those) and keep the best ``top_n``."""
        from .api import rerank  # late: api imports this module

        documents = result.documents
        try:
            ranked: RerankResult = rerank(
                result.query, documents, top_n=self.top_n, model=self.reranker, cache=cache
            )
        except InputTooLongError as error:
            hit = result.hits[error.index]
            raise InvalidInputError(
                f"the query with corpus document {hit.index} makes {error.n_tokens} tokens, "
                f"more than {self.reranker.name}'s limit of {error.limit}; split long "
                "documents into passages before searching, or load the reranker with a larger "
                "n_ctx if it allows one"
            ) from None
        hits = []
        for rank, scored in enumerate(ranked.hits, 1):
            found = result.hits[scored.index]
            hits.append(
                RerankedHit(
                    rank=rank,
                    index=found.index,
                    document=found.document,
                    score=scored.score,
                    label=found.label,
                    cosine=found.score,
                    cosine_rank=found.rank,
                )
            )
        return RerankedSearchResult(
            query=result.query,
            hits=hits,
            model=result.model,
            corpus_size=result.corpus_size,
            method="rerank",
            reranker=ranked.model,
            rerank_method=ranked.method,
            candidates=len(documents),
            rerank_tokens=ranked.total_tokens,
        )


def rerank_plan(rerank: ModelArg | None, top_n: object, fallback: object) -> RerankPlan | None:
    """Check :func:`embed_nb.search`'s ``rerank``, ``top_n`` and ``rerank_fallback``.

    Returns None when there is nothing to rerank.

    Raises:
        InvalidInputError: ``top_n`` or ``rerank_fallback`` without ``rerank``, a bad value.
        NotARerankerError: ``rerank`` names an embedding model and no fallback was asked for.
    """
    if fallback is not None and fallback not in RERANK_FALLBACKS:
        raise InvalidInputError(f"rerank_fallback must be None or 'cosine', not {fallback!r}")
    if rerank is None:
        if top_n is not None:
            raise InvalidInputError(
                "top_n applies only with rerank= (the reranker keeps the best top_n of the k "
                "hits); to keep fewer hits without one, pass a smaller k"
            )
        if fallback is not None:
            raise InvalidInputError("rerank_fallback applies only with rerank=")
        return None
    checked_top_n = check_top_n(top_n)
    reranker = resolve_model(rerank)
    if not reranker.is_reranker:
        if reranker.pooling == "none":
            raise NotARerankerError(
                f"rerank={reranker.name!r} pools 'none' (one vector per token), so it can "
                "neither rerank nor rank by cosine; pass a reranker"
            )
        if fallback is None:
            raise NotARerankerError(
                f"rerank={reranker.name!r} is an embedding model (pooling "
                f"{reranker.pooling!r}), not a reranker; load a reranker GGUF and pass it, or "
                "pass rerank_fallback='cosine' to reorder the hits by its cosine similarity"
            )
    return RerankPlan(reranker, checked_top_n, fallback if not reranker.is_reranker else None)


def reranked(plan: RerankPlan | None, result: SearchResult, *, cache: Any = True) -> SearchResult:
    """``result`` reranked by ``plan``, or as it is when there is no plan."""
    return result if plan is None else plan.apply(result, cache=cache)


# --- views ----------------------------------------------------------------------------------


def _method_label(r: RerankedSearchResult) -> str:
    if r.rerank_method == "cosine":
        return "cosine fallback: not a reranker"
    return "RANK scores"


def _header(r: RerankedSearchResult) -> str:
    return (
        f"top {len(r.hits)} of {r.candidates} retrieved from {r.corpus_size:,} by {r.model} "
        f"(cosine), reranked by {r.reranker} ({_method_label(r)})"
    )


def _reranked_html(r: RerankedSearchResult) -> str:
    from .display import MAX_ROWS, _more, _wrap, bar_widths, clip, esc

    shown = r.hits[:MAX_ROWS] if len(r.hits) > MAX_ROWS * 5 else r.hits
    widths = bar_widths([h.score for h in shown])
    body = "".join(
        f"<tr><td class='num'>{h.rank}</td><td class='num'>{h.score:.4f}</td>"
        f"<td><span class='bar' style='width:{width * 0.8:.1f}px'></span></td>"
        f"<td class='num'>{h.cosine:.4f}</td><td class='num'>{h.cosine_rank}</td>"
        f"<td class='num'>{h.index}</td><td>{esc(clip(h.document))}</td></tr>"
        for h, width in zip(shown, widths, strict=True)
    )
    table = (
        "<table><thead><tr><th>rank</th><th>rerank score</th><th></th><th>cosine</th>"
        "<th>cosine rank</th><th>index</th><th>document</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    header = f"<b>Search then rerank</b> “{esc(clip(r.query, 200))}” · {esc(_header(r))}"
    return _wrap(header, table + _more(len(r.hits), len(shown)))


def reranked_text(r: RerankedSearchResult) -> str:
    from .display import MAX_ROWS, clip

    lines = [f"Search then rerank {clip(r.query, 80)!r} · {_header(r)}"]
    shown = r.hits[:MAX_ROWS] if len(r.hits) > MAX_ROWS * 5 else r.hits
    for h in shown:
        lines.append(
            f"  {h.rank:>3}. rerank {h.score: .4f} · cosine {h.cosine: .4f} (#{h.cosine_rank})"
            f"  [{h.index}] {clip(h.document, 70)}"
        )
    if len(r.hits) > len(shown):
        lines.append(f"  … {len(r.hits) - len(shown):,} more")
    return "\n".join(lines)
