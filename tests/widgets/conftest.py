"""Widget tests embed through the kernel's cache now (as the API does): give each test its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the user cache (~/.cache/embed_nb), which other processes share."""
    from embed_nb import cache

    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "embed-cache"))
    monkeypatch.setattr(cache, "_CACHES", {})
