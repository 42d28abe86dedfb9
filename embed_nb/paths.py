"""Where embed_nb keeps files it makes (converted models, the embedding cache)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The user cache directory: ``$EMBED_NB_CACHE_DIR``, else ``$XDG_CACHE_HOME/embed_nb``,
    else ``~/.cache/embed_nb``. Created on first use."""
    explicit = os.environ.get("EMBED_NB_CACHE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "embed_nb"
    path.mkdir(parents=True, exist_ok=True)
    return path
