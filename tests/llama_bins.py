"""Where scripts/build_llama_server.py keeps the real llama.cpp binaries the tests run.

One answer for every test: the script's own ``bin_dir`` (it knows the version and the GPU
flag set, ``$LLAMA_GPU``), unless ``$EMBED_NB_LLAMA_BIN_DIR`` names a folder.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


@cache
def build_script() -> ModuleType:
    """scripts/build_llama_server.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "_build_llama_server", ROOT / "scripts" / "build_llama_server.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bin_dir() -> Path:
    explicit = os.environ.get("EMBED_NB_LLAMA_BIN_DIR")
    return Path(explicit) if explicit else Path(build_script().bin_dir())


def is_built(directory: Path) -> bool:
    return bool(build_script().is_built(directory))
