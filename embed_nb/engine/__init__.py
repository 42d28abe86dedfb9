"""The in-kernel llama.cpp engine. It knows nothing of IPython or widgets."""

from __future__ import annotations

from .model import LocalModel

__all__ = ["LocalModel"]
