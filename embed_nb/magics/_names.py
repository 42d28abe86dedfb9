"""Which variable names a magic may store a result under (``-o NAME``)."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Collection

from IPython.core.error import UsageError

# Names IPython keeps for itself: assigning one breaks later cells (In, Out, get_ipython...).
_IPYTHON_NAMES = frozenset(
    {"In", "Out", "get_ipython", "exit", "quit", "display", "open", "_", "__", "___"}
    | {"_ih", "_oh", "_dh", "_sh", "_i", "_ii", "_iii"}
)
_IPYTHON_PATTERN = re.compile(r"_i?\d+")  # _1, _i1: the output and input history


def _assignable(name: str, flag: str, reserved: Collection[str] = ()) -> str:
    """``name`` if a magic may store a result under it, else a one-line UsageError.

    Refused: what is not an identifier, keywords, dunder names (``__builtins__``), IPython's
    own names (``get_ipython``, ``In``, ``_``, ``_i1``...) and builtins (``print``, ``list``),
    since overwriting any of them breaks the cells (or the magics) that follow.
    """
    why = ""
    if not name.isidentifier():
        why = "it is not a Python identifier"
    elif keyword.iskeyword(name):
        why = "it is a Python keyword"
    elif name.startswith("__") and name.endswith("__"):
        why = "names like __x__ belong to Python"
    elif name in _IPYTHON_NAMES or name in reserved or _IPYTHON_PATTERN.fullmatch(name):
        why = "IPython uses that name"
    elif hasattr(builtins, name):
        why = "it would hide a Python builtin"
    if why:
        raise UsageError(f"{flag} {name!r}: choose another variable name ({why})")
    return name
