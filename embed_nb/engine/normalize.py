"""Pooling names and llama.cpp's ``common_embd_normalize``, vectorised over rows."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from ..pooling import POOLING_NAMES, POOLING_TYPES, pooling_type

__all__ = ["POOLING_NAMES", "POOLING_TYPES", "check_normalize", "normalize", "pooling_type"]

# llama.cpp reads embd_normalize into an int32.
MAX_NORM = 2**31 - 1


def check_normalize(mode: object) -> int:
    """Accept llama.cpp's ``embd_normalize`` values: -1, 0, 1, 2 or an integer p > 2 (up to
    2**31 - 1, llama.cpp's int). Anything else (floats, bools, NaN, strings, huge ints) is an
    :class:`InvalidInputError`."""
    integer = isinstance(mode, int | np.integer) and not isinstance(mode, bool)
    if integer and -1 <= int(mode) <= MAX_NORM:  # type: ignore[call-overload]
        return int(mode)  # type: ignore[call-overload]
    shown = _short_repr(mode)
    raise InvalidInputError(
        f"normalize={shown} is not valid; use -1 (none), 0 (max-abs int16 range), "
        f"1 (L1), 2 (L2, the default) or an integer p from 3 to {MAX_NORM} (p-norm)"
    )


def _short_repr(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**40:
        return f"<an integer of {value.bit_length()} bits>"  # repr of a huge int can raise
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def normalize(vectors: np.ndarray, mode: int) -> np.ndarray:
    """Normalise each row as ``common_embd_normalize(inp, out, n, mode)`` does.

    -1: unchanged; 0: scaled so the largest magnitude is 32760 (not rounded);
    1: L1; 2: L2; p > 2: p-norm. All-zero rows stay zero, as in llama.cpp.
    """
    mode = check_normalize(mode)
    rows = np.asarray(vectors, dtype=np.float32)
    if mode == -1:
        return rows.copy()
    wide = rows.astype(np.float64)
    if mode == 0:
        size = np.abs(wide).max(axis=-1, keepdims=True) / 32760.0
    elif mode == 2:
        size = np.sqrt((wide * wide).sum(axis=-1, keepdims=True))
    else:
        # The p-norm of x is m * ||x / m||_p with m = max|x|: the same value, but no
        # |x| ** p overflows to inf (or underflows to 0) for a large p.
        peak = np.abs(wide).max(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            scaled = np.where(peak > 0, np.abs(wide) / np.where(peak > 0, peak, 1.0), 0.0)
            size = peak * (scaled**mode).sum(axis=-1, keepdims=True) ** (1.0 / mode)
    with np.errstate(divide="ignore"):
        scale = np.where(size > 0, 1.0 / size, 0.0).astype(np.float32)
    return rows * scale
