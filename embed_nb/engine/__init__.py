"""The in-kernel llama.cpp engine. It knows nothing of IPython or widgets."""

from __future__ import annotations

from .model import LocalModel
from .remote import RemoteModel

__all__ = ["LocalModel", "RemoteModel"]
