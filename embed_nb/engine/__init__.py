"""The in-kernel llama.cpp engine. It knows nothing of IPython or widgets.

:class:`LocalModel` and :class:`RemoteModel` are imported on first use, so importing a light
submodule (``embed_nb.engine.protocol``, ``embed_nb.engine.options``) loads neither numpy nor
llama.cpp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import LocalModel
    from .remote import RemoteModel

__all__ = ["LocalModel", "RemoteModel"]

# name -> module that defines it, imported when the name is first used.
_LAZY = {"LocalModel": ".model", "RemoteModel": ".remote"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
