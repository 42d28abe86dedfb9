"""The :class:`EmbedMagics` class: its ``%config`` traits, helpers, ``%embed`` and ``%rerank``."""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from traitlets import Bool, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from ..errors import EmbedNbError
from ..settings import FIELDS, SETTINGS
from . import _dedup, _models, _parquet, _views
from ._names import _assignable
from ._parsers import _EMBED_CELL, _EMBED_LINE, _RERANK_CELL, _RERANK_LINE
from ._parsing import _friendly, _options_then_text, _split, _unescape
from ._views import _widget

#: What ``--cluster`` takes as a scheduler address: ``scheme://...`` or ``host:port``.
_ADDRESS = re.compile(r"[A-Za-z][\w+.-]*://\S+|[\w.-]+:\d+|\[[0-9A-Fa-f:.]+\]:\d+")


class _ConfigError(UsageError, TraitError):
    """A refused ``%config`` value: a TraitError, so traitlets keeps the old value, and a
    UsageError, so IPython shows one line instead of a traceback."""


# --- the magics ----------------------------------------------------------------------------


@magics_class
class EmbedMagics(Magics, Configurable):
    """Embeddings in the notebook: ``%embed``, ``%rerank``, ``%embed_search``, ``%embed_sim``,
    ``%embed_map``, ``%embed_parquet``, ``%embed_model`` and ``%embed_cache``."""

    # The traits mirror embed_nb.settings.SETTINGS: a %config assignment is checked, then
    # written through to it, so the API, the registry and the widgets follow it too.
    normalize = Int(FIELDS["normalize"].default, help=FIELDS["normalize"].help).tag(config=True)
    progress_threshold = Int(
        FIELDS["progress_threshold"].default, help=FIELDS["progress_threshold"].help
    ).tag(config=True)
    cache = Bool(FIELDS["cache"].default, help=FIELDS["cache"].help).tag(config=True)
    cache_dir = Unicode(FIELDS["cache_dir"].default, help=FIELDS["cache_dir"].help).tag(config=True)
    cache_dtype = Unicode(FIELDS["cache_dtype"].default, help=FIELDS["cache_dtype"].help).tag(
        config=True
    )
    default_model = Unicode(FIELDS["default_model"].default, help=FIELDS["default_model"].help).tag(
        config=True
    )

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
        from ..engine.protocol import resolve_model

        return resolve_model(name)

    def _model_for_inputs(self, name: str | None, *values: Any) -> Any:
        """Like :meth:`_model`, but when every input is already vectors and no model was
        named, no model is needed (and none is loaded)."""
        import numpy as np

        from ..results import Embeddings

        if name is None and all(
            v is None or isinstance(v, Embeddings | np.ndarray) for v in values
        ):
            return None
        return self._model(name)

    def _vectors(self, data: Any, model: Any, job: str, cluster: Any = None) -> Any:
        """Embeddings or an array as they are (the widget checks them); texts embedded
        (through the cache) with a model that gives embeddings, not reranker scores."""
        import numpy as np

        from .. import api
        from ..results import Embeddings

        if isinstance(data, Embeddings):
            return data
        if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
            return data
        return api.embed(
            data, model=api.vector_model(model, job), cache=self._cache(), cluster=cluster
        )

    # --cluster [ADDRESS|VAR], on every magic that embeds many texts.

    def _is_cluster_word(self, word: str) -> bool:
        """Whether the word after ``--cluster`` is its value: a scheduler address, or the name
        of a variable (``client``, ``cluster``); any other word is the text or an argument."""
        if _ADDRESS.fullmatch(word):
            return True
        namespace = self.shell.user_ns if self.shell is not None else {}
        return word.split(".")[0] in namespace

    def _cluster(self, value: str | bool | None) -> Any:
        """``--cluster`` as the API's ``cluster=``: None when not given (the kernel embeds),
        True when given alone (the notebook's default Dask client), the object a variable
        holds (a Client, a cluster, an address), or a scheduler address as typed."""
        if not isinstance(value, str):
            return value
        if self._is_cluster_word(value):
            return value if _ADDRESS.fullmatch(value) else self._variable(value, "--cluster")
        raise UsageError(
            f"--cluster {value!r}: no variable of that name, and not a scheduler address; give "
            "a variable holding a Dask Client or cluster, an address such as tcp://host:8786, "
            "or --cluster alone for the notebook's default client"
        )

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
                                                 (images too: Path, PIL image, embed_nb.Image)
            %embed [options] --image PATH_OR_GLOB [CAPTION]   image or audio files
            %%embed [options] [--sep SEP]        one text per line of the cell (or split on SEP)

        Options: ``-o NAME`` store the result; ``-m MODEL`` a loaded model by name;
        ``--normalize N`` (-1 none, 0 max-abs, 1 L1, 2 L2, p > 2); ``--truncate`` or
        ``--chunk`` for texts longer than the context; ``--tokens`` per-token vectors;
        ``--prompt P`` put before each text (``query``/``document``: the model's prompt, else
        the text itself); ``--dim N`` keep the first N components, normalised again;
        ``--cluster [ADDRESS|VAR]`` embed what the cache lacks on a Dask cluster: alone, the
        notebook's default client (the last ``Client()`` made); ``--cluster client`` the
        Client or cluster a variable holds; ``--cluster tcp://host:8786`` a scheduler.

        The word after ``--cluster`` is its value only when it is an address or names a
        variable, so ``%embed --cluster The cat sat`` embeds "The cat sat" on the default
        client (``%embed --cluster -- client`` embeds the word "client").
        """
        from .. import api

        if cell is None:
            args, text = _options_then_text(line, _EMBED_LINE, self._is_cluster_word)
            if args.image is not None:
                from ..media import media_inputs

                if args.var is not None:
                    raise UsageError("%embed: give either --image or -v VAR, not both")
                texts: Any = media_inputs(args.image, caption=text or "")
            elif args.var is not None:
                if text is not None:
                    raise UsageError("%embed: give either TEXT or -v VAR, not both")
                texts = self._variable(args.var, "-v")
            elif text is None:
                raise UsageError("%embed: nothing to embed; write %embed TEXT or %embed -v VAR")
            else:
                if args.column is not None:
                    raise UsageError("%embed: --column goes with -v VAR (a DataFrame)")
                texts = text
            column = args.column
        else:
            args = _EMBED_CELL.parse(_split(line, "%%embed"), self._is_cluster_word)
            texts = self._cell_texts(cell, args.sep, "%%embed")
            column = None
        cluster = self._cluster(args.cluster)
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
            cluster=cluster,
            prompt=args.prompt,
            dim=args.dim,
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
                    [--instruction "TEXT"]
            %%rerank [--top-n K] [-o NAME] [-m MODEL] [--instruction "TEXT"] QUERY
            one document per line of the cell

        ``--instruction`` replaces an instruction-tuned reranker's default instruction.
        """
        from .. import api

        if cell is None:
            args = _RERANK_LINE.parse(_split(line, "%rerank"))
            documents = self._variable(args.documents, "DOCS_VAR")
            query, column = args.query, args.column
        else:
            args, query = _options_then_text(line, _RERANK_CELL)
            if not query:
                raise UsageError("%%rerank: write the query on the first line: %%rerank QUERY")
            documents, column = self._cell_texts(cell, None, "%%rerank"), None
        if args.widget and args.instruction is not None:
            raise UsageError("--instruction does not work with --widget yet; leave one out")
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
            instruction=args.instruction,
        )
        self._store(args.out, result)
        return result

    # --- %embed_search, %embed_sim, %embed_map (._views); %embed_parquet (._parquet);
    # %embed_model, %embed_cache (._models)

    embed_search = line_magic(_views.embed_search)
    embed_sim = line_magic(_views.embed_sim)
    embed_map = line_magic(_views.embed_map)
    embed_compare = line_magic(_views.embed_compare)
    embed_parquet = line_magic(_parquet.embed_parquet)
    embed_model = line_magic(_models.embed_model)
    embed_cache = line_magic(_models.embed_cache)
    embed_dedup = line_magic(_dedup.embed_dedup)
    embed_cluster = line_magic(_dedup.embed_cluster)
