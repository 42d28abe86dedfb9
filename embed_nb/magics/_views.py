"""``%embed_search``, ``%embed_sim`` and ``%embed_map``: bound into :class:`EmbedMagics`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..settings import SETTINGS
from ._parsers import _COMPARE, _MAP, _SEARCH, _SIM
from ._parsing import _friendly, _split

if TYPE_CHECKING:
    from .._core import EmbedMagics


def _widget(build: Callable[[Any], Any]) -> Any:
    """Build a widget from ``embed_nb.widgets``; None (and a one-line note) without its bundle."""
    from .. import widgets

    try:
        return build(widgets)
    except widgets.BundleMissingError as error:
        print(f"{error} Showing a static view instead.")
        return None


@_friendly
def embed_search(self: EmbedMagics, line: str) -> Any:
    """Semantic search of a corpus; the corpus is embedded once, then found in the cache.

    Usage::

        %embed_search "QUERY" CORPUS_VAR [--image] [-k K] [--context] [--column C] [-o NAME]
                      [-m MODEL]
                      [--cluster [ADDRESS|VAR]] [--quantize P] [--rescore-multiplier M]
                      [--rerank NAME [--top-n N] [--rerank-fallback cosine]]

    ``--image``: QUERY is an image (or audio) file to search with; the corpus may hold
    images too (a list of paths), for a model loaded with ``--mmproj``.
    ``--context`` shows the hits and returns them as a RAG prompt context (a str).
    ``--cluster`` embeds the corpus on a Dask cluster (alone: the notebook's default client;
    or a scheduler address, or a variable holding a Client or cluster); the query is
    embedded in the kernel. ``--quantize int8|uint8|binary|ubinary`` searches the corpus'
    quantised vectors and rescores ``M`` x K candidates (default 4) with the float query.
    ``--rerank NAME`` reranks the K hits with that loaded reranker and keeps the best
    ``--top-n``, showing both scores.
    """
    from .. import api

    args = _SEARCH.parse(_split(line, "%embed_search"), self._is_cluster_word)
    cluster = self._cluster(args.cluster)
    corpus = self._variable(args.corpus, "CORPUS_VAR")
    from ..media import media_inputs

    result = api.search(
        media_inputs(args.query)[0] if args.image else args.query,
        corpus,
        args.k,
        model=self._model_for_inputs(args.model, corpus),
        cache=self._cache(),
        progress=SETTINGS.progress_threshold,
        column=args.column,
        cluster=cluster,
        quantize=args.quantize,
        rescore_multiplier=args.rescore_multiplier,
        rerank=args.rerank,
        top_n=args.top_n,
        rerank_fallback=args.rerank_fallback,
    )
    self._store(args.out, result)
    if args.context:
        from IPython.display import display

        display(result)
        return result.context()
    return result


# --- %embed_sim and %embed_map --------------------------------------------------------------


@_friendly
def embed_sim(self: EmbedMagics, line: str) -> Any:
    """Cosine similarity matrix of A against itself, or of A (rows) against B (columns).

    Usage::

        %embed_sim A [B] [-o NAME] [-m MODEL] [--static] [--threshold T]

    A and B are variables holding Embeddings, arrays of vectors, or texts (embedded).
    ``--threshold T`` greys out the widget's cells below T (its slider changes it later).
    """
    from .. import api

    args = _SIM.parse(_split(line, "%embed_sim"))
    a = self._variable(args.a, "A")
    b = self._variable(args.b, "B") if args.b is not None else None
    model = self._model_for_inputs(args.model, a, b)
    if b is None and not args.static:
        vectors = self._vectors(a, model, "a similarity matrix")
        widget = _widget(lambda w: w.SimilarityMatrix(vectors, threshold=args.threshold))
        if widget is not None:
            self._store(args.out, widget)
            return widget
    result = api.similarity(a, b, model=model, cache=self._cache())
    self._store(args.out, result)
    return result


@_friendly
def embed_map(self: EmbedMagics, line: str) -> Any:
    """A 2-D map (PCA, or UMAP with umap-learn) of embeddings; hover a point for its text.

    Usage::

        %embed_map E [--labels L] [--method pca|umap] [-o NAME] [-m MODEL] [--static]
                   [--cluster [ADDRESS|VAR]] [--thumbnails] [--frame DF]
                   [--color-by COLUMN|VAR|MODE] [--size-by COLUMN|VAR] [--contours]

    Shows the projection widget, or with ``--static`` a plotly figure when plotly is installed
    (else a static map). ``--cluster`` embeds texts on a Dask cluster, as ``%embed`` does.
    Image points show their thumbnails on hover; ``--thumbnails`` draws them in place of dots
    once zoomed in far enough. ``--frame DF`` gives the points' columns (the selection table
    shows them; ``view.selection`` returns its rows); ``--color-by`` and ``--size-by`` take one
    of its columns, or a variable holding one value per point; ``--contours`` adds density
    contours.
    """
    from .. import api

    args = _MAP.parse(_split(line, "%embed_map"), self._is_cluster_word)
    cluster = self._cluster(args.cluster)
    data = self._variable(args.embeddings, "E")
    labels = self._variable(args.labels, "--labels") if args.labels else None
    if labels is not None and isinstance(labels, str):
        raise UsageError("--labels needs a variable holding a list of labels, not a str")
    model = self._model_for_inputs(args.model, data)
    if not args.static:
        vectors = self._vectors(data, model, "a map", cluster)
        # The view's query box embeds in the kernel: give it a model when one is at hand.
        frame = self._variable(args.frame, "--frame") if args.frame else None
        columns = {
            "color_by": _column(self, args.color_by, frame),
            "size_by": _column(self, args.size_by, frame),
        }
        widget = _widget(
            lambda w: w.ProjectionView(
                vectors,
                labels=labels,
                model=model,
                thumbnails=args.thumbnails,
                frame=frame,
                contours=args.contours,
                **columns,
            )
        )
        if widget is not None:
            self._store(args.out, widget)
            return widget
    projection = api.project(
        data, args.method, labels=labels, model=model, cache=self._cache(), cluster=cluster
    )
    self._store(args.out, projection)
    try:
        import plotly.express as px
    except ImportError:
        print("plotly is not installed, so this map is static (pip install plotly)")
        return projection
    frame = projection.to_pandas()
    # plotly reads <b>, <a href=...> and friends in hover text as markup: escape the
    # document text (plotly shows the entities as the characters they stand for).
    from ..display import esc

    frame["label"] = [esc(label) for label in frame["label"]]
    return px.scatter(
        frame,
        x="x",
        y="y",
        hover_name="label",
        title=f"{projection.method.upper()} map of {len(projection):,} texts",
    )


def _column(self: EmbedMagics, word: str | None, frame: Any) -> Any:
    """``--color-by``/``--size-by``: a column of the frame by name, else a variable holding
    the values, else the word itself (a colour mode such as ``kmeans``)."""
    if word is None or (frame is not None and word in getattr(frame, "columns", ())):
        return word
    namespace = self.shell.user_ns if self.shell is not None else {}
    return namespace.get(word, word)


@_friendly
def embed_compare(self: EmbedMagics, line: str) -> Any:
    """Two embeddings of the same items side by side, points linked (a CompareView).

    Usage::

        %embed_compare A B [-k K] [--names A,B] [--layout pca|umap] [-o NAME]

    ``A`` and ``B`` name variables holding Embeddings (or arrays) of the same items in the
    same order: two models, two poolings, before and after. Each point is coloured by how many
    of its K nearest neighbours the two share; the mean is shown above.
    """
    args = _COMPARE.parse(_split(line, "%embed_compare"))
    a, b = self._variable(args.a, "A"), self._variable(args.b, "B")
    names = [part.strip() for part in args.names.split(",")] if args.names else None
    widget = _widget(lambda w: w.CompareView(a, b, k=args.k, names=names, layout=args.layout))
    self._store(args.out, widget)
    return widget
