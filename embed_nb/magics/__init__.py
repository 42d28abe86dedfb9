"""IPython magics: thin front ends over :mod:`embed_nb.api` that parse, call and display.

``%load_ext embed_nb`` registers :class:`EmbedMagics`. Its defaults are traits that
``%config EmbedMagics.<trait> = value`` sets (``%config EmbedMagics`` lists them); each is
written through to :data:`embed_nb.settings.SETTINGS`, so the API, the registry, the widgets
and the magics all follow one ``%config`` line.

Errors a user can cause (an unknown flag, a missing variable, the wrong type, a model that
does not load, ...) show as one ``UsageError`` line that says what to do, never a traceback.
Lines are expanded the IPython way (``{var}``, ``$var``); cell bodies are text and never are.

The package: :mod:`._core` (the :class:`EmbedMagics` class, its traits and ``%embed`` /
``%rerank``), :mod:`._views` (``%embed_search``, ``%embed_sim``, ``%embed_map``),
:mod:`._parquet` (``%embed_parquet``, on a Dask cluster), :mod:`._models` (``%embed_model``,
``%embed_cache``), :mod:`._parsers` (every magic's
arguments; the load flags come from :mod:`embed_nb.flags`), :mod:`._parsing` (the one-line
argparse, options-then-text) and :mod:`._names` (which variable names a result may take).
"""

from __future__ import annotations

from .. import load_ipython_extension, unload_ipython_extension
from ._core import EmbedMagics
from ._parsers import (  # noqa: F401 - the parsers, for tests that drive them directly
    _EMBED_CELL,
    _EMBED_LINE,
    _MAP,
    _MODEL_LOAD,
    _PARQUET,
    _RERANK_CELL,
    _RERANK_LINE,
    _SEARCH,
    _SIM,
)

__all__ = ["EmbedMagics", "load_ipython_extension", "unload_ipython_extension"]
