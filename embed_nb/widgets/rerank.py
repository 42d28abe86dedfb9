"""RerankList: documents reranked in the kernel as you type, with score bars and a top-n slider."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from ..engine.inputs import rerank_inputs
from ..errors import InvalidInputError
from ..results import RerankResult
from ._base import WidgetBase, binary
from ._inputs import bounded_int, is_model

__all__ = ["RerankList"]


class RerankList(WidgetBase):
    """A query box over a list of documents, reranked in the kernel on every query.

    Args:
        query: the first query ("" shows the documents in input order).
        documents: the documents (a list of str).
        model: a reranker or embedding model (anything with ``.rerank(query, docs)``), a
            callable ``f(query, docs) -> scores``, a registry name, or None for the kernel's
            current model (:func:`embed_nb.api.rerank` falls back to cosine for embedders).
        top_n: how many rows show (the slider changes it).
        live: rerank while typing (after a short pause), not only on Enter.

    In Python, :attr:`result` is the latest :class:`~embed_nb.RerankResult` (all documents,
    best first), :attr:`ranking` the document indices in that order and :attr:`selected` the
    index of the document chosen in the view (-1 for none; Escape clears it).
    """

    _bundle = "rerank.js"

    query = traitlets.Unicode("").tag(sync=True)
    top_n = traitlets.Int(10).tag(sync=True)
    live = traitlets.Bool(True).tag(sync=True)
    n_documents = traitlets.Int(0).tag(sync=True)
    order = traitlets.Any(None).tag(**binary("uint32"))  # document indices, best first
    scores = traitlets.Any(None).tag(**binary("float32"))  # their scores, same order
    method = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    # The document chosen in the list (click, or Enter / Space on a row); -1 for none.
    selected = traitlets.Int(-1).tag(sync=True)

    def __init__(
        self,
        query: str,
        documents: Sequence[str],
        *,
        model: Any = None,
        top_n: int = 10,
        live: bool = True,
        **kwargs: Any,
    ) -> None:
        docs = rerank_inputs(query, documents, None)  # the checks of every rerank
        top_n = bounded_int(top_n, "top_n", 1, 2**31 - 1)
        if not isinstance(live, bool):
            raise InvalidInputError(f"live must be True or False, not {live!r}")
        super().__init__(**kwargs)
        self._texts = docs
        self._model = model
        self.result: RerankResult | None = None
        with self.hold_sync():
            self.n_documents = len(docs)
            self.top_n = max(1, min(top_n, len(docs)))
            self.live = live
        self.observe(self._rerank, names="query")
        self.query = query
        if not query:
            self._rerank(None)

    def _offline_data(self) -> dict[str, Any]:  # what to_html's page answers (html_export)
        from ._offline import rerank_offline

        return rerank_offline(self)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: Any) -> int:
        index = int(proposal["value"])
        if not -1 <= index < self.n_documents:
            raise InvalidInputError(
                f"selected must be -1 or a document index below {self.n_documents}"
            )
        return index

    @property
    def documents(self) -> list[str]:
        return list(self._texts)

    @property
    def ranking(self) -> list[int]:
        """Document indices, best first."""
        return [int(i) for i in (self.order if self.order is not None else [])]

    def _score(self, query: str) -> tuple[np.ndarray, str]:
        model = self._model
        if model is None or isinstance(model, str) or is_model(model):
            # A loaded model, a name or the current one: chosen as every front end chooses
            # (resolve_model), scored as api.rerank scores (RANK, or cosine via the cache).
            from .. import api  # late: loads the engine only when needed

            result = api.rerank(query, self._texts, model=model)
        elif hasattr(model, "rerank") and getattr(model, "is_reranker", True):
            result = model.rerank(query, self._texts)
        elif callable(model) and not hasattr(model, "rerank"):
            return np.asarray(model(query, self._texts), dtype=np.float32), "custom"
        else:
            from .. import api

            result = api.rerank(query, self._texts, model=model)
        return _scores_by_index(result, len(self._texts)), result.method

    def _rerank(self, change: Any) -> None:
        query = self.query.strip()
        n = len(self._texts)
        if not query:
            with self.hold_sync():
                self.error = ""
                self.method = ""
                self.scores = np.zeros(n, np.float32)
                self.order = np.arange(n, dtype=np.uint32)
            return
        self.busy = True
        try:
            scores, method = self._score(query)
        except Exception as exc:  # shown above the list
            self.error = f"{type(exc).__name__}: {exc}"
            self.busy = False
            return
        if scores.shape != (n,):
            self.error = f"the scorer gave {scores.shape} scores for {n} documents"
            self.busy = False
            return
        order = np.argsort(-scores, kind="stable").astype(np.uint32)
        self.result = RerankResult(
            query=query,
            hits=[_hit(int(i), self._texts[int(i)], float(scores[i])) for i in order],
            model=getattr(self._model, "name", str(self._model or "current")),
            method=method,
            total_tokens=0,
        )
        with self.hold_sync():
            self.error = ""
            self.method = method
            self.scores = scores[order].astype(np.float32)
            self.order = order
            self.busy = False


def _scores_by_index(result: RerankResult, n: int) -> np.ndarray:
    scores = np.full(n, -np.inf, dtype=np.float32)
    for hit in result.hits:
        scores[hit.index] = hit.score
    return scores


def _hit(index: int, document: str, score: float) -> Any:
    from ..results import RerankHit

    return RerankHit(index, document, score)
