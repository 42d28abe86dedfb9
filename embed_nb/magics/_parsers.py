"""Every magic's arguments. ``%embed_model load`` takes the load flags of
:mod:`embed_nb.flags`, the table the ``embed-nb`` CLI reads too."""

from __future__ import annotations

from ..flags import add_flags, add_search_options
from ._parsing import _Parser


def _cluster_option(parser: _Parser) -> _Parser:
    """``--cluster [ADDRESS|VAR]``: None when not given (embed in the kernel), True when given
    alone (the notebook's default Dask client), else the word after it (see
    ``EmbedMagics._cluster``)."""
    parser.add_argument(
        "--cluster",
        nargs="?",
        const=True,
        default=None,
        metavar="ADDRESS|VAR",
        help="embed on a Dask cluster: a scheduler address, a variable holding a Client or "
        "cluster, or nothing for the notebook's default client",
    )
    return parser


def _embed_options(parser: _Parser, *, cell: bool) -> _Parser:
    if not cell:
        parser.add_argument("-v", "--var", help="a variable holding the texts")
        parser.add_argument("--column", help="the text column when the variable is a DataFrame")
        parser.add_argument(
            "--image",
            metavar="PATH_OR_GLOB",
            help="embed image (or audio) files: a file, a glob or a folder; the text after "
            "the options, if any, is each one's caption (needs a model loaded with --mmproj)",
        )
    else:
        parser.add_argument("--sep", help="split the cell on SEP instead of on lines")
    parser.add_argument("-o", "--out", help="store the result in this variable")
    parser.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
    parser.add_argument("--normalize", type=int, help="-1 none, 0 max-abs, 1 L1, 2 L2, p>2")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
    mode.add_argument("--chunk", action="store_true", help="embed long texts in windows, averaged")
    parser.add_argument("--tokens", action="store_true", help="per-token vectors (pooling none)")
    parser.add_argument(
        "--prompt", help="put before each text: query, document (the model's) or the text itself"
    )
    parser.add_argument("--dim", type=int, help="keep the first N components, normalised again")
    return _cluster_option(parser)


_EMBED_LINE = _embed_options(_Parser("%embed"), cell=False)
_EMBED_CELL = _embed_options(_Parser("%%embed"), cell=True)


def _rerank_options(parser: _Parser) -> _Parser:
    parser.add_argument("--top-n", type=int, dest="top_n", help="keep the best K")
    parser.add_argument("-o", "--out", help="store the result in this variable")
    parser.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
    parser.add_argument("--truncate", action="store_true", help="cut pairs longer than the context")
    parser.add_argument("--widget", action="store_true", help="a live RerankList to type into")
    parser.add_argument(
        "--instruction", help="replace an instruction-tuned reranker's default instruction"
    )
    return parser


_RERANK_LINE = _rerank_options(_Parser("%rerank"))
_RERANK_LINE.add_argument("query")
_RERANK_LINE.add_argument("documents", help="a variable holding the documents")
_RERANK_LINE.add_argument("--column", help="the text column when the variable is a DataFrame")
_RERANK_CELL = _rerank_options(_Parser("%%rerank"))

_SEARCH = _Parser("%embed_search")
_SEARCH.add_argument("query", help="the query text (with --image: an image or audio file)")
_SEARCH.add_argument(
    "--image", action="store_true", help="QUERY is the path of an image (or audio) file"
)
_SEARCH.add_argument("corpus", help="a variable holding the corpus (texts or Embeddings)")
_SEARCH.add_argument("-k", type=int, default=5, help="how many results (default 5)")
_SEARCH.add_argument("--context", action="store_true", help="also give a RAG prompt context")
_SEARCH.add_argument("--column", help="the text column when the corpus is a DataFrame")
_SEARCH.add_argument("-o", "--out", help="store the SearchResult in this variable")
_SEARCH.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
add_search_options(_SEARCH, ("NAME", "rerank the k hits with this loaded reranker"))
_cluster_option(_SEARCH)

_SIM = _Parser("%embed_sim")
_SIM.add_argument("a", help="a variable: Embeddings, an array, or texts")
_SIM.add_argument("b", nargs="?", help="another such variable (default: a against itself)")
_SIM.add_argument("-o", "--out", help="store the SimilarityMatrix in this variable")
_SIM.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
_SIM.add_argument("--static", action="store_true", help="an HTML table instead of the widget")
_SIM.add_argument(
    "--threshold", type=float, default=-1.0, help="grey out cells below this similarity (widget)"
)

_MAP = _Parser("%embed_map")
_MAP.add_argument("embeddings", help="a variable: Embeddings, an array, or texts")
_MAP.add_argument("--labels", help="a variable holding one label per point")
_MAP.add_argument("--method", default="pca", choices=["pca", "umap"])
_MAP.add_argument("-o", "--out", help="store the Projection in this variable")
_MAP.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
_MAP.add_argument("--static", action="store_true", help="a static figure instead of the widget")
_MAP.add_argument("--frame", help="a variable: a DataFrame with one row per point (its columns)")
_MAP.add_argument(
    "--color-by",
    help="a column of --frame, a variable (a Series or list), or label/kmeans/hdbscan/none",
)
_MAP.add_argument("--size-by", help="a numeric column of --frame, or a variable")
_MAP.add_argument("--contours", action="store_true", help="draw density contours (the widget)")
_MAP.add_argument(
    "--thumbnails",
    action="store_true",
    help="draw image points as thumbnails in place of dots when zoomed in (the widget)",
)
_cluster_option(_MAP)

_COMPARE = _Parser("%embed_compare")
_COMPARE.add_argument("a", help="a variable: the first Embeddings (or array)")
_COMPARE.add_argument("b", help="a variable: the second, of the same items in the same order")
_COMPARE.add_argument("-k", type=int, default=10, help="neighbours compared per point (10)")
_COMPARE.add_argument("--names", help="the two sides' titles, comma-separated: A,B")
_COMPARE.add_argument("--layout", default="pca", choices=["pca", "umap"])
_COMPARE.add_argument("-o", "--out", help="store the CompareView in this variable")

_PARQUET = _Parser("%embed_parquet")
_PARQUET.add_argument("source", help="parquet to read: a file, a folder or a glob")
_PARQUET.add_argument("dest", help="the folder to write, one part per input part")
_PARQUET.add_argument(
    "--text-column", dest="text_column", default="text", help="the text column (default: text)"
)
_PARQUET.add_argument("--id-column", dest="id_column", help="a column to copy beside the vectors")
_PARQUET.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
_PARQUET.add_argument("--normalize", type=int, help="-1 none, 0 max-abs, 1 L1, 2 L2, p>2")
_fit = _PARQUET.add_mutually_exclusive_group()
_fit.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
_fit.add_argument("--chunk", action="store_true", help="embed long texts in windows, averaged")
_PARQUET.add_argument(
    "--no-resume",
    dest="resume",
    action="store_false",
    help="embed every part again, also those DEST already has",
)
_PARQUET.add_argument("-o", "--out", help="store the ParquetJob in this variable")
_cluster_option(_PARQUET)

#: ``%embed_model load``'s options, by flags.FLAGS name.
LOAD_OPTIONS: tuple[str, ...] = (
    "name",
    "pooling",
    "n_gpu_layers",
    "n_ctx",
    "n_threads",
    "flash_attn",
)
LOAD_OPTIONS += ("n_ubatch", "batch_tokens", "n_contexts", "upcast", "precision", "allow_insecure")
LOAD_OPTIONS += ("query_prompt", "document_prompt", "mmproj")
_MODEL_ACTIONS = ("load", "list", "use", "info", "doctor", "unload")
_MODEL_LOAD = _Parser("%embed_model load")
_MODEL_LOAD.add_argument("source", help="a .gguf path, hf://owner/repo/file.gguf, a URL, or a name")
add_flags(_MODEL_LOAD, LOAD_OPTIONS)
