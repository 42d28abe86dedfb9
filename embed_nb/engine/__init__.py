"""The in-kernel llama.cpp engine. It knows nothing of IPython or widgets.

:class:`LocalModel` and :class:`RemoteModel` are imported on first use, so importing a light
submodule (``embed_nb.engine.protocol``, ``embed_nb.engine.options``) loads neither numpy nor
llama.cpp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import LocalModel
    from .remote import RemoteModel

__all__ = ["LocalModel", "RemoteModel"]


def __getattr__(name: str) -> Any:
    # Imported on first use; later uses find the module in sys.modules.
    if name == "LocalModel":
        from .model import LocalModel

        return LocalModel
    if name == "RemoteModel":
        from .remote import RemoteModel

        return RemoteModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
