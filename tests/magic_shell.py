"""An IPython shell with embed_nb's magics, set up for one test: its own model registry, cache
directory and default model, and a few documents in ``docs``; everything put back after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from embed_nb import cache, registry
from embed_nb.registry import ModelRegistry
from embed_nb.settings import FIELDS

DOCS = [
    "the cat sits on the mat",
    "a dog eats food",
    "python code and data science",
    "the moon and the stars in the sky",
]


def magic_shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "embed_nb")
    return ip


@contextmanager
def configured(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_path: Path,
    **names: Any,
) -> Iterator[InteractiveShell]:
    """``shell`` with a fresh registry, a cache in ``tmp_path``, ``model_path`` as the default
    model, and ``docs`` (and ``names``) in its namespace."""
    reg = ModelRegistry()
    monkeypatch.setattr(registry, "REGISTRY", reg)
    monkeypatch.setattr(cache, "_CACHES", {})
    magics = shell.magics_manager.registry["EmbedMagics"]
    shell.run_line_magic("config", f"EmbedMagics.cache_dir = {str(tmp_path / 'cache')!r}")
    shell.run_line_magic("config", f"EmbedMagics.default_model = {str(model_path)!r}")
    shell.user_ns.update(docs=list(DOCS), **names)
    # %config keeps what it was given in shell.config (a refused value too), and a later
    # %reload_ext would apply it: put the section back as it was.
    before = dict(shell.config.get("EmbedMagics", {}))
    try:
        yield shell
    finally:
        shell.config["EmbedMagics"] = type(shell.config)(before)
        for name in names:
            shell.user_ns.pop(name, None)
        for trait in FIELDS:
            setattr(magics, trait, magics.traits()[trait].default_value)
        reg.unload_all()


def run(ip: InteractiveShell, source: str) -> Any:
    """Run a cell that must succeed; return its value."""
    result = ip.run_cell(source, store_history=False)
    if not result.success:
        raise AssertionError(f"{source!r} failed: {result.error_in_exec!r}")
    return result.result
