"""IPython magics: thin front ends over :mod:`embed_nb.api` that parse, call and display.

``%load_ext embed_nb`` registers :class:`EmbedMagics`. Its defaults are traits that
``%config EmbedMagics.<trait> = value`` sets (``%config EmbedMagics`` lists them); each is
written through to :data:`embed_nb.settings.SETTINGS`, so the API, the registry, the widgets
and the magics all follow one ``%config`` line.

Errors a user can cause (an unknown flag, a missing variable, the wrong type, a model that
does not load, ...) show as one ``UsageError`` line that says what to do, never a traceback.
Lines are expanded the IPython way (``{var}``, ``$var``); cell bodies are text and never are.
"""

from __future__ import annotations

import argparse
import builtins
import functools
import keyword
import re
import shlex
from collections.abc import Callable, Collection
from typing import Any, NoReturn, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from traitlets import Bool, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from . import registry
from .errors import EmbedNbError
from .settings import FIELDS, SETTINGS

__all__ = ["EmbedMagics"]

F = TypeVar("F", bound=Callable[..., Any])


# --- argument parsing ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one UsageError line instead of exiting."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _usage(f"{self.prog}: {message} (see {self.prog}? for usage)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: invalid arguments")

    def parse(self, tokens: list[str]) -> argparse.Namespace:
        args = self.parse_args(tokens)
        # Check the name a result goes to before any work, not after a long embed.
        if getattr(args, "out", None) is not None:
            _assignable(args.out, f"{self.prog} -o")
        return args


def _split(line: str, prog: str) -> list[str]:
    """Shell-like words; a quote left open is a usage error, not a traceback."""
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f'{prog}: {error} (put text with quotes or spaces in "...")') from None


_TOKEN = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")
_NUMBER = re.compile(r"-\d")


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return shlex.split(token)[0]
    return token


def _options_then_text(line: str, parser: _Parser) -> tuple[argparse.Namespace, str | None]:
    """Options first, then free text kept exactly as typed (``%embed -o v The cat sat``).

    A text in quotes may be followed by more options (``%embed "The cat" -o v``); ``--``
    ends the options (``%embed -- -5 degrees``).
    """
    takes_value = {
        option: action.nargs != 0 for action in parser._actions for option in action.option_strings
    }
    options: list[str] = []
    text: str | None = None
    position = 0
    while (match := _TOKEN.match(line, position)) is not None:
        token = match.group(1)
        if token == "--" and text is None:
            text = line[match.end() :].strip() or None
            break
        if token.startswith("-") and len(token) > 1 and not _NUMBER.match(token):
            name = token.split("=", 1)[0]
            options.append(token)
            position = match.end()
            if "=" not in token and takes_value.get(name, False):
                value = _TOKEN.match(line, position)
                if value is not None:
                    options.append(_unquote(value.group(1)))
                    position = value.end()
            continue
        if text is not None:
            raise UsageError(
                f"{parser.prog}: unexpected {token!r} after the text; put options before the "
                "text, or the whole text in quotes"
            )
        if token[0] in "\"'" and len(token) >= 2 and token[-1] == token[0]:
            try:
                text = _unquote(token)
            except ValueError:
                text = token
            position = match.end()
            continue
        text = line[match.start(1) :].strip()
        break
    return parser.parse(options), text


# Names IPython keeps for itself: assigning one breaks later cells (In, Out, get_ipython...).
_IPYTHON_NAMES = frozenset(
    {"In", "Out", "get_ipython", "exit", "quit", "display", "open", "_", "__", "___"}
    | {"_ih", "_oh", "_dh", "_sh", "_i", "_ii", "_iii"}
)
_IPYTHON_PATTERN = re.compile(r"_i?\d+")  # _1, _i1: the output and input history


def _assignable(name: str, flag: str, reserved: Collection[str] = ()) -> str:
    """``name`` if a magic may store a result under it, else a one-line UsageError.

    Refused: what is not an identifier, keywords, dunder names (``__builtins__``), IPython's
    own names (``get_ipython``, ``In``, ``_``, ``_i1``...) and builtins (``print``, ``list``),
    since overwriting any of them breaks the cells (or the magics) that follow.
    """
    why = ""
    if not name.isidentifier():
        why = "it is not a Python identifier"
    elif keyword.iskeyword(name):
        why = "it is a Python keyword"
    elif name.startswith("__") and name.endswith("__"):
        why = "names like __x__ belong to Python"
    elif name in _IPYTHON_NAMES or name in reserved or _IPYTHON_PATTERN.fullmatch(name):
        why = "IPython uses that name"
    elif hasattr(builtins, name):
        why = "it would hide a Python builtin"
    if why:
        raise UsageError(f"{flag} {name!r}: choose another variable name ({why})")
    return name


def _unescape(sep: str) -> str:
    """``--sep '\\n\\n'`` means two newlines."""
    return sep.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _usage(message: str) -> UsageError:
    """A UsageError whose message is one printable line, whatever the user typed into it
    (a newline, a NUL, a lone surrogate that the output stream could not even encode)."""
    from .display import one_line

    return UsageError(one_line(message))


def _friendly(method: F) -> F:
    """Turn errors the user can cause into one UsageError line."""

    @functools.wraps(method)
    def wrapper(self: EmbedMagics, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except UsageError as error:
            raise _usage(str(error)) from None
        except EmbedNbError as error:
            raise _usage(f"{type(error).__name__}: {error}") from None
        except OSError as error:  # the machine's, not ours: a full disk, a missing directory
            raise _usage(f"{type(error).__name__}: {error}") from None
        except KeyboardInterrupt as interrupt:
            notes = getattr(interrupt, "__notes__", None) or []
            detail = " ".join(note.removeprefix("embed_nb: ") for note in notes)
            raise _usage(detail or "interrupted; the model is still loaded") from None

    return wrapper  # type: ignore[return-value]


# --- parsers -------------------------------------------------------------------------------


def _embed_options(parser: _Parser, *, cell: bool) -> _Parser:
    if not cell:
        parser.add_argument("-v", "--var", help="a variable holding the texts")
        parser.add_argument("--column", help="the text column when the variable is a DataFrame")
    else:
        parser.add_argument("--sep", help="split the cell on SEP instead of on lines")
    parser.add_argument("-o", "--out", help="store the result in this variable")
    parser.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
    parser.add_argument("--normalize", type=int, help="-1 none, 0 max-abs, 1 L1, 2 L2, p>2")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
    mode.add_argument("--chunk", action="store_true", help="embed long texts in windows, averaged")
    parser.add_argument("--tokens", action="store_true", help="per-token vectors (pooling none)")
    return parser


_EMBED_LINE = _embed_options(_Parser("%embed"), cell=False)
_EMBED_CELL = _embed_options(_Parser("%%embed"), cell=True)


def _rerank_options(parser: _Parser) -> _Parser:
    parser.add_argument("--top-n", type=int, dest="top_n", help="keep the best K")
    parser.add_argument("-o", "--out", help="store the result in this variable")
    parser.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
    parser.add_argument("--truncate", action="store_true", help="cut pairs longer than the context")
    parser.add_argument("--widget", action="store_true", help="a live RerankList to type into")
    return parser


_RERANK_LINE = _rerank_options(_Parser("%rerank"))
_RERANK_LINE.add_argument("query")
_RERANK_LINE.add_argument("documents", help="a variable holding the documents")
_RERANK_LINE.add_argument("--column", help="the text column when the variable is a DataFrame")
_RERANK_CELL = _rerank_options(_Parser("%%rerank"))

_SEARCH = _Parser("%embed_search")
_SEARCH.add_argument("query")
_SEARCH.add_argument("corpus", help="a variable holding the corpus (texts or Embeddings)")
_SEARCH.add_argument("-k", type=int, default=5, help="how many results (default 5)")
_SEARCH.add_argument("--context", action="store_true", help="also give a RAG prompt context")
_SEARCH.add_argument("--column", help="the text column when the corpus is a DataFrame")
_SEARCH.add_argument("-o", "--out", help="store the SearchResult in this variable")
_SEARCH.add_argument("-m", "--model", help="a loaded model's name (default: the current)")

_SIM = _Parser("%embed_sim")
_SIM.add_argument("a", help="a variable: Embeddings, an array, or texts")
_SIM.add_argument("b", nargs="?", help="another such variable (default: a against itself)")
_SIM.add_argument("-o", "--out", help="store the SimilarityMatrix in this variable")
_SIM.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
_SIM.add_argument("--static", action="store_true", help="an HTML table instead of the widget")

_MAP = _Parser("%embed_map")
_MAP.add_argument("embeddings", help="a variable: Embeddings, an array, or texts")
_MAP.add_argument("--labels", help="a variable holding one label per point")
_MAP.add_argument("--method", default="pca", choices=["pca", "umap"])
_MAP.add_argument("-o", "--out", help="store the Projection in this variable")
_MAP.add_argument("-m", "--model", help="a loaded model's name (default: the current)")
_MAP.add_argument("--static", action="store_true", help="a static figure instead of the widget")

_MODEL_ACTIONS = ("load", "list", "use", "info", "unload")
_MODEL_LOAD = _Parser("%embed_model load")
_MODEL_LOAD.add_argument("source", help="a .gguf path, hf://owner/repo/file.gguf, a URL, or a name")
_MODEL_LOAD.add_argument("--name", help="the name to keep it under")
_MODEL_LOAD.add_argument("--pooling", choices=["none", "mean", "cls", "last", "rank"])
_MODEL_LOAD.add_argument("--ngl", type=int, help="layers to offload to the GPU (-1: all)")
_MODEL_LOAD.add_argument("--ctx", type=int, help="context size in tokens")
_MODEL_LOAD.add_argument("--threads", type=int, help="CPU threads")
_MODEL_LOAD.add_argument(
    "--allow-insecure",
    action="store_true",
    dest="allow_insecure",
    help="send an API key over plain http to a host that is not this machine",
)


class _ConfigError(UsageError, TraitError):
    """A refused ``%config`` value: a TraitError, so traitlets keeps the old value, and a
    UsageError, so IPython shows one line instead of a traceback."""


def _widget(build: Callable[[Any], Any]) -> Any:
    """Build a widget from ``embed_nb.widgets``; None (and a one-line note) without its bundle."""
    from . import widgets

    try:
        return build(widgets)
    except widgets.BundleMissingError as error:
        print(f"{error} Showing a static view instead.")
        return None


# --- the magics ----------------------------------------------------------------------------


@magics_class
class EmbedMagics(Magics, Configurable):
    """Embeddings in the notebook: ``%embed``, ``%rerank``, ``%embed_search``, ``%embed_sim``,
    ``%embed_map``, ``%embed_model`` and ``%embed_cache``."""

    # The traits mirror embed_nb.settings.SETTINGS: a %config assignment is checked, then
    # written through to it, so the API, the registry and the widgets follow it too.
    normalize = Int(FIELDS["normalize"].default, help=FIELDS["normalize"].help).tag(config=True)
    progress_threshold = Int(
        FIELDS["progress_threshold"].default, help=FIELDS["progress_threshold"].help
    ).tag(config=True)
    cache = Bool(FIELDS["cache"].default, help=FIELDS["cache"].help).tag(config=True)
    cache_dir = Unicode(FIELDS["cache_dir"].default, help=FIELDS["cache_dir"].help).tag(
        config=True
    )
    default_model = Unicode(
        FIELDS["default_model"].default, help=FIELDS["default_model"].help
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        # Values from the shell's config win; the others start from the settings as they are
        # (set from Python, or by an earlier %load_ext).
        configured = self.config.get(type(self).__name__, {})
        for name in FIELDS:
            mine, shared = getattr(self, name), getattr(SETTINGS, name)
            if mine == shared:  # nothing to copy (and no check to run: load_ext stays cheap)
                continue
            if name in configured:
                setattr(SETTINGS, name, mine)
            else:
                setattr(self, name, shared)
        SETTINGS.subscribe(self._follow_settings)
        if shell is not None:  # so that %config EmbedMagics works (once, after %reload_ext too)
            shell.configurables[:] = [
                c for c in shell.configurables if type(c).__name__ != type(self).__name__
            ]
            shell.configurables.append(self)

    # A bad %config value is refused on assignment (and the old value kept), as one line.

    @validate(*FIELDS)
    def _check_setting(self, proposal: dict[str, Any]) -> Any:
        name = proposal["trait"].name
        try:
            return FIELDS[name].check(proposal["value"])
        except EmbedNbError as error:
            raise _ConfigError(f"EmbedMagics.{name}: {error}") from None

    @observe(*FIELDS)
    def _write_through(self, change: dict[str, Any]) -> None:
        setattr(SETTINGS, change["name"], change["new"])

    def _follow_settings(self, name: str, value: Any) -> None:
        """A setting changed outside %config: show it in ``%config EmbedMagics`` too."""
        if name in self.trait_names() and getattr(self, name) != value:
            setattr(self, name, value)

    # --- helpers -------------------------------------------------------------------------

    def _cache(self) -> Any:
        """The settings' cache, or False when it is off (what the API's ``cache=`` takes)."""
        store = SETTINGS.cache_store()
        return False if store is None else store

    def _model(self, name: str | None) -> Any:
        """The named loaded model, or the current one (loading the default model if none is)."""
        from .engine.protocol import resolve_model

        return resolve_model(name)

    def _model_for_inputs(self, name: str | None, *values: Any) -> Any:
        """Like :meth:`_model`, but when every input is already vectors and no model was
        named, no model is needed (and none is loaded)."""
        import numpy as np

        from .results import Embeddings

        if name is None and all(
            v is None or isinstance(v, Embeddings | np.ndarray) for v in values
        ):
            return None
        return self._model(name)

    def _vectors(self, data: Any, model: Any, job: str) -> Any:
        """Embeddings or an array as they are (the widget checks them); texts embedded
        (through the cache) with a model that gives embeddings, not reranker scores."""
        import numpy as np

        from . import api
        from .results import Embeddings

        if isinstance(data, Embeddings):
            return data
        if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
            return data
        return api.embed(data, model=api.vector_model(model, job), cache=self._cache())

    def _variable(self, name: str, flag: str = "variable") -> Any:
        parts = name.split(".")
        if not all(part.isidentifier() for part in parts):
            raise UsageError(f"{flag} needs a variable name (like docs or df.text), not {name!r}")
        namespace = self.shell.user_ns if self.shell is not None else {}
        if parts[0] not in namespace:
            raise UsageError(
                f"no variable named {parts[0]!r}; define it in a cell first, e.g. "
                f'{parts[0]} = ["first text", "second text"]'
            )
        value = namespace[parts[0]]
        for part in parts[1:]:
            try:
                value = getattr(value, part)
            except AttributeError:
                raise UsageError(f"{name!r}: {type(value).__name__} has no {part!r}") from None
            except Exception as error:  # a property of the user's object that raises
                raise UsageError(
                    f"{name!r}: reading {part!r} raised {type(error).__name__}: {error}"
                ) from None
        return value

    def _store(self, name: str | None, value: Any) -> None:
        if name and self.shell is not None:
            reserved = getattr(self.shell, "user_ns_hidden", {})
            self.shell.user_ns[_assignable(name, "-o", reserved)] = value

    # --- %embed / %%embed ----------------------------------------------------------------

    @line_cell_magic
    @_friendly
    def embed(self, line: str, cell: str | None = None) -> Any:
        """Embed text with the current model; shows the vectors, returns an ``Embeddings``.

        Usage::

            %embed [options] TEXT                the rest of the line is the text
            %embed [options] -v VAR [--column C] a str, list of str, Series or DataFrame column
            %%embed [options] [--sep SEP]        one text per line of the cell (or split on SEP)

        Options: ``-o NAME`` store the result; ``-m MODEL`` a loaded model by name;
        ``--normalize N`` (-1 none, 0 max-abs, 1 L1, 2 L2, p > 2); ``--truncate`` or
        ``--chunk`` for texts longer than the context; ``--tokens`` per-token vectors.
        """
        from . import api

        if cell is None:
            args, text = _options_then_text(line, _EMBED_LINE)
            if args.var is not None:
                if text is not None:
                    raise UsageError("%embed: give either TEXT or -v VAR, not both")
                texts: Any = self._variable(args.var, "-v")
            elif text is None:
                raise UsageError("%embed: nothing to embed; write %embed TEXT or %embed -v VAR")
            else:
                if args.column is not None:
                    raise UsageError("%embed: --column goes with -v VAR (a DataFrame)")
                texts = text
            column = args.column
        else:
            args = _EMBED_CELL.parse(_split(line, "%%embed"))
            texts = self._cell_texts(cell, args.sep, "%%embed")
            column = None
        result = api.embed(
            texts,
            model=self._model(args.model),
            normalize=args.normalize,  # None: the settings' normalize
            truncate=args.truncate,
            chunk=args.chunk,
            cache=self._cache(),
            progress=SETTINGS.progress_threshold,
            column=column,
            tokens=args.tokens,
        )
        self._store(args.out, result)
        return result

    @staticmethod
    def _cell_texts(cell: str, sep: str | None, prog: str) -> list[str]:
        pieces = cell.split(_unescape(sep)) if sep else cell.splitlines()
        texts = [piece.strip() for piece in pieces if piece.strip()]
        if not texts:
            raise UsageError(f"{prog}: the cell holds no text")
        return texts

    # --- %rerank / %%rerank --------------------------------------------------------------

    @line_cell_magic
    @_friendly
    def rerank(self, line: str, cell: str | None = None) -> Any:
        """Rerank documents for a query: RANK scores with a reranker, cosine otherwise.

        Usage::

            %rerank "QUERY" DOCS_VAR [--top-n K] [--column C] [-o NAME] [-m MODEL] [--truncate]
            %%rerank [--top-n K] [-o NAME] [-m MODEL] QUERY
            one document per line of the cell
        """
        from . import api

        if cell is None:
            args = _RERANK_LINE.parse(_split(line, "%rerank"))
            documents = self._variable(args.documents, "DOCS_VAR")
            query, column = args.query, args.column
        else:
            args, query = _options_then_text(line, _RERANK_CELL)
            if not query:
                raise UsageError("%%rerank: write the query on the first line: %%rerank QUERY")
            documents, column = self._cell_texts(cell, None, "%%rerank"), None
        if args.widget:
            docs, _, _ = api.as_texts(documents, column=column, what="documents")
            chosen = self._model(args.model)
            widget = _widget(
                lambda w: w.RerankList(query, docs, model=chosen, top_n=args.top_n or 10)
            )
            if widget is not None:
                self._store(args.out, widget)
                return widget
        result = api.rerank(
            query,
            documents,
            top_n=args.top_n,
            model=self._model(args.model),
            truncate=args.truncate,
            cache=self._cache(),
            column=column,
        )
        self._store(args.out, result)
        return result

    # --- %embed_search -------------------------------------------------------------------

    @line_magic
    @_friendly
    def embed_search(self, line: str) -> Any:
        """Semantic search of a corpus; the corpus is embedded once, then found in the cache.

        Usage::

            %embed_search "QUERY" CORPUS_VAR [-k K] [--context] [--column C] [-o NAME] [-m MODEL]

        ``--context`` shows the hits and returns them as a RAG prompt context (a str).
        """
        from . import api

        args = _SEARCH.parse(_split(line, "%embed_search"))
        corpus = self._variable(args.corpus, "CORPUS_VAR")
        result = api.search(
            args.query,
            corpus,
            args.k,
            model=self._model_for_inputs(args.model, corpus),
            cache=self._cache(),
            progress=SETTINGS.progress_threshold,
            column=args.column,
        )
        self._store(args.out, result)
        if args.context:
            from IPython.display import display

            display(result)
            return result.context()
        return result

    # --- %embed_sim and %embed_map -------------------------------------------------------

    @line_magic
    @_friendly
    def embed_sim(self, line: str) -> Any:
        """Cosine similarity matrix of A against itself, or of A (rows) against B (columns).

        Usage::

            %embed_sim A [B] [-o NAME] [-m MODEL]

        A and B are variables holding Embeddings, arrays of vectors, or texts (embedded).
        """
        from . import api

        args = _SIM.parse(_split(line, "%embed_sim"))
        a = self._variable(args.a, "A")
        b = self._variable(args.b, "B") if args.b is not None else None
        model = self._model_for_inputs(args.model, a, b)
        if b is None and not args.static:
            vectors = self._vectors(a, model, "a similarity matrix")
            widget = _widget(lambda w: w.SimilarityMatrix(vectors))
            if widget is not None:
                self._store(args.out, widget)
                return widget
        result = api.similarity(a, b, model=model, cache=self._cache())
        self._store(args.out, result)
        return result

    @line_magic
    @_friendly
    def embed_map(self, line: str) -> Any:
        """A 2-D map (PCA, or UMAP with umap-learn) of embeddings; hover a point for its text.

        Usage::

            %embed_map E [--labels L] [--method pca|umap] [-o NAME] [-m MODEL]

        Shows a plotly figure when plotly is installed, else a static map.
        """
        from . import api

        args = _MAP.parse(_split(line, "%embed_map"))
        data = self._variable(args.embeddings, "E")
        labels = self._variable(args.labels, "--labels") if args.labels else None
        if labels is not None and isinstance(labels, str):
            raise UsageError("--labels needs a variable holding a list of labels, not a str")
        model = self._model_for_inputs(args.model, data)
        if not args.static:
            vectors = self._vectors(data, model, "a map")
            # The view's query box embeds in the kernel: give it a model when one is at hand.
            widget = _widget(lambda w: w.ProjectionView(vectors, labels=labels, model=model))
            if widget is not None:
                self._store(args.out, widget)
                return widget
        projection = api.project(data, args.method, labels=labels, model=model, cache=self._cache())
        self._store(args.out, projection)
        try:
            import plotly.express as px
        except ImportError:
            print("plotly is not installed, so this map is static (pip install plotly)")
            return projection
        frame = projection.to_pandas()
        # plotly reads <b>, <a href=...> and friends in hover text as markup: escape the
        # document text (plotly shows the entities as the characters they stand for).
        from .display import esc

        frame["label"] = [esc(label) for label in frame["label"]]
        return px.scatter(
            frame,
            x="x",
            y="y",
            hover_name="label",
            title=f"{projection.method.upper()} map of {len(projection):,} texts",
        )

    # --- %embed_model --------------------------------------------------------------------

    @line_magic
    @_friendly
    def embed_model(self, line: str) -> None:
        """Manage the kernel's resident models.

        Usage::

            %embed_model load SOURCE [--name N] [--pooling P] [--ngl N] [--ctx N] [--threads N]
            %embed_model list
            %embed_model use NAME
            %embed_model info [NAME]
            %embed_model unload NAME

        SOURCE is a .gguf path, hf://owner/repo/file.gguf, the default model's name
        (all-minilm-l6-v2), or a llama-server URL.
        """
        words = _split(line, "%embed_model")
        if not words or words[0] not in _MODEL_ACTIONS:
            raise UsageError(
                "%embed_model: say what to do: "
                + " | ".join(_MODEL_ACTIONS)
                + " (see %embed_model? for usage)"
            )
        action, rest = words[0], words[1:]
        reg = registry.REGISTRY
        if action == "load":
            args = _MODEL_LOAD.parse(rest)
            options = {
                key: value
                for key, value in (
                    ("pooling", args.pooling),
                    ("n_gpu_layers", args.ngl),
                    ("n_ctx", args.ctx),
                    ("n_threads", args.threads),
                    ("allow_insecure", args.allow_insecure or None),
                )
                if value is not None
            }
            model = reg.load(args.source, name=args.name, **options)
            resident = reg.resident(reg.current)
            print(
                f"loaded {resident.name!r} ({resident.summary()}) in "
                f"{resident.load_seconds:.1f} s; it is the current model"
            )
            del model
        elif action == "list":
            self._no_more(rest, "list")
            residents = reg.list()
            if not residents:
                print(
                    "no models loaded; the first %embed loads the default model "
                    f"{reg.default_source!r}"
                )
            for r in residents:
                mark = "*" if r.name == reg.current else " "
                source = f"  {r.source}" if r.source else ""
                print(f"{mark} {r.name}  ({r.summary()}){source}")
        elif action == "use":
            name = self._one_name(rest, "use")
            reg.use(name)
            print(f"current model: {name!r}")
        elif action == "info":
            if len(rest) > 1:
                raise UsageError("%embed_model info: at most one NAME")
            resident = reg.resident(rest[0] if rest else None)
            print(repr(resident.model.info))
        else:
            name = self._one_name(rest, "unload")
            reg.unload(name)
            now = reg.current
            print(f"unloaded {name!r}; current model: {now!r}" if now else f"unloaded {name!r}")

    @staticmethod
    def _one_name(rest: list[str], action: str) -> str:
        if len(rest) != 1:
            raise UsageError(f"%embed_model {action}: give exactly one NAME")
        return rest[0]

    @staticmethod
    def _no_more(rest: list[str], action: str) -> None:
        if rest:
            raise UsageError(f"%embed_model {action}: takes no arguments, got {' '.join(rest)!r}")

    # --- %embed_cache --------------------------------------------------------------------

    @line_magic
    @_friendly
    def embed_cache(self, line: str) -> None:
        """Show or clear the embedding cache.

        Usage::

            %embed_cache info
            %embed_cache clear
        """
        words = _split(line, "%embed_cache")
        if words not in (["info"], ["clear"]):
            raise UsageError("%embed_cache: use %embed_cache info or %embed_cache clear")
        store = self._cache()
        if store is False:
            print("the cache is off (turn it on with %config EmbedMagics.cache = True)")
            return
        if words == ["info"]:
            print(repr(store.info()))
        else:
            removed = store.clear()
            print(f"cleared the cache: {removed:,} vectors removed from {store.path}")
