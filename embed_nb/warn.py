"""Warnings that point at the user's line, not at embed_nb's insides.

A fixed ``stacklevel`` is right for one call path only: the same warning reached through
``%embed_model load``, ``load_model`` or ``LocalModel`` has a different depth each time. This
walks out of embed_nb (and IPython's magic machinery) to the first frame of the user's code.
"""

from __future__ import annotations

import sys
import warnings

# Frames of these packages are ours or the magic machinery's; the user's code is past them.
_INSIDE = ("embed_nb", "IPython", "decorator")


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the caller outside embed_nb."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_INSIDE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
