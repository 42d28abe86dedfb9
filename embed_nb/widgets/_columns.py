"""Per-point columns for ProjectionView: colour by any column, size by a number, filter.

A column is coded in the kernel into one byte per point, so that a million points still cost
1 byte each over the comm, whatever the column holds:

- **categorical** (strings, booleans, integers with few distinct values, or a mix of numbers
  and strings, which are read as strings): a category index per point, at most
  :data:`MAX_NAMED` named categories (the largest), the rest share "other"; missing values
  (None, NaN) are their own grey category "missing", last.
- **numeric** (floats, or integers with many distinct values): the value quantised to
  0..254 between the column's finite minimum and maximum (:data:`NUMERIC_LEVELS` levels),
  and 255 (:data:`MISSING_CODE`) for NaN/None, drawn grey with a "missing" legend entry.
  Infinity is refused: it has no place on a colour bar.

Sizes are numeric only and must all be finite: a point without a size cannot be drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._static import OTHER_COLOR, category_palette

__all__ = [
    "MISSING_CODE",
    "NUMERIC_LEVELS",
    "ColumnCoding",
    "code_column",
    "code_sizes",
    "column_values",
    "filter_mask",
    "frame_columns",
]

# Integer columns with at most this many distinct values are categories (a rating 1..5, a
# fold number), above it numbers (a year, a count).
MAX_INT_CATEGORIES = 12
# Named categories at most; the rest share "other" (the legend stays readable).
MAX_NAMED = 20
NUMERIC_LEVELS = 255  # codes 0..254 for values
MISSING_CODE = 255  # and this for NaN / None
MISSING_COLOR = "#bdbdbd"


@dataclass
class ColumnCoding:
    """One byte per point and what the bytes mean."""

    kind: str  # "categorical" or "numeric"
    codes: np.ndarray  # uint8, one per point
    names: list[str] = field(default_factory=list)  # categorical: one per code
    colors: list[str] = field(default_factory=list)  # categorical: one per code
    low: float = 0.0  # numeric: the value of code 0
    high: float = 0.0  # numeric: the value of code 254
    missing: int = 0  # points with no value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def frame_columns(frame: Any, n: int) -> list[str]:
    """The column names of ``frame=`` (a pandas DataFrame with one row per point)."""
    if frame is None:
        return []
    if not (hasattr(frame, "columns") and hasattr(frame, "iloc")):
        raise InvalidInputError(
            f"frame must be a pandas DataFrame with one row per point, not {type(frame).__name__}"
        )
    if len(frame) != n:
        raise InvalidInputError(
            f"frame has {len(frame)} rows for {n} points: pass one row per point"
        )
    return [str(c) for c in frame.columns]


def column_values(value: Any, frame: Any, n: int, what: str) -> tuple[str, np.ndarray]:
    """``(name, values)`` for a column given by name (of ``frame``) or as a Series, list or
    1-D array with one value per point."""
    if isinstance(value, str):
        columns = frame_columns(frame, n)
        if value not in columns:
            hint = f"frame's columns are {columns}" if columns else "pass frame= a DataFrame"
            raise InvalidInputError(f"{what}={value!r} is not a column of frame ({hint})")
        series = (
            frame[value] if value in frame.columns else frame[frame.columns[columns.index(value)]]
        )
        return value, np.asarray(series.to_numpy())
    if isinstance(value, bytes | Mapping) or not hasattr(value, "__len__"):
        raise InvalidInputError(
            f"{what} must be a column name, a pandas Series, a list or a 1-D array, "
            f"not {type(value).__name__}"
        )
    name = getattr(value, "name", None)
    to_numpy = getattr(value, "to_numpy", None)
    if callable(to_numpy):
        array = np.asarray(to_numpy())
    elif isinstance(value, np.ndarray):
        array = value
    else:  # a list: ragged or odd items become one object per point
        items = list(value)
        found: np.ndarray | None
        try:
            found = np.asarray(items)
        except ValueError:
            found = None
        if found is not None and found.ndim == 1 and found.dtype.kind in "biufOUS":
            array = found
        else:
            array = np.empty(len(items), dtype=object)
            array[:] = items
    if array.ndim != 1:
        raise InvalidInputError(
            f"{what} must be 1-D (one value per point), not shape {array.shape}"
        )
    if len(array) != n:
        raise InvalidInputError(
            f"{what} has {len(array)} values for {n} points: pass one per point"
        )
    return (str(name) if isinstance(name, str) and name else what), array


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    """Float64 values when the column holds numbers (None/NaN allowed), else None."""
    kind = values.dtype.kind
    if kind == "b":
        return None
    if kind in "iuf":
        return values.astype(np.float64)
    if kind != "O":
        return None
    out = np.empty(len(values), np.float64)
    for i, v in enumerate(values):
        if _is_missing(v):
            out[i] = np.nan
        elif isinstance(v, int | float | np.integer | np.floating) and not isinstance(
            v, bool | np.bool_
        ):
            out[i] = float(v)
        else:
            return None  # strings, booleans, mixes: categories
    return out


def code_column(values: np.ndarray, what: str = "color_by") -> ColumnCoding:
    """Code a column into one byte per point (see the module's docstring for the rules)."""
    numbers = _as_numbers(values)
    if numbers is not None:
        finite = numbers[np.isfinite(numbers)]
        if np.isinf(numbers).any():
            raise InvalidInputError(
                f"{what} holds infinity: replace it with a finite number or NaN (drawn as missing)"
            )
        integral = values.dtype.kind in "iu" or (len(finite) and np.all(finite == np.round(finite)))
        if values.dtype.kind != "f" and integral and len(np.unique(finite)) <= MAX_INT_CATEGORIES:
            return _categorical(values)
        return _numeric(numbers)
    return _categorical(values)


def _numeric(numbers: np.ndarray) -> ColumnCoding:
    missing = np.isnan(numbers)
    codes = np.full(len(numbers), MISSING_CODE, np.uint8)
    if missing.all():
        return ColumnCoding("numeric", codes, low=0.0, high=0.0, missing=int(missing.sum()))
    low, high = float(np.nanmin(numbers)), float(np.nanmax(numbers))
    span = high - low
    good = ~missing
    if span > 0:
        scaled = (numbers[good] - low) * ((NUMERIC_LEVELS - 1) / span)
        codes[good] = np.clip(np.rint(scaled), 0, NUMERIC_LEVELS - 1).astype(np.uint8)
    else:  # one value: the middle of the map
        codes[good] = (NUMERIC_LEVELS - 1) // 2
    return ColumnCoding("numeric", codes, low=low, high=high, missing=int(missing.sum()))


def _categorical(values: np.ndarray) -> ColumnCoding:
    n = len(values)
    if values.dtype.kind in "biuUS":
        strings = values.astype(str)
        missing = np.zeros(n, bool)
    else:
        missing = np.fromiter((_is_missing(v) for v in values), bool, n)
        strings = np.array(["" if m else str(v) for v, m in zip(values, missing, strict=True)])
    present = strings[~missing]
    names, first, inverse, counts = np.unique(
        present, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")  # categories in order of first appearance
    rank = np.empty(len(names), np.int64)
    rank[order] = np.arange(len(names))
    names, counts, inverse = names[order], counts[order], rank[inverse]
    named = [str(s) for s in names]
    colors = category_palette(len(named))
    limit = MAX_NAMED - (1 if missing.any() else 0)
    if len(named) > limit:  # the largest keep a name, the rest share "other"
        keep = np.sort(np.argsort(-counts, kind="stable")[: limit - 1])
        remap = np.full(len(named), limit - 1, np.int64)
        remap[keep] = np.arange(len(keep))
        inverse = remap[inverse]
        named = [named[k] for k in keep] + ["other"]
        colors = [*category_palette(len(keep)), OTHER_COLOR]
    codes = np.zeros(n, np.uint8)
    codes[~missing] = inverse.astype(np.uint8)
    if missing.any():
        codes[missing] = len(named)
        named.append("missing")
        colors.append(MISSING_COLOR)
    return ColumnCoding("categorical", codes, named, colors, missing=int(missing.sum()))


def code_sizes(values: np.ndarray, what: str = "size_by") -> np.ndarray:
    """Sizes as uint8 0..255 between the column's minimum and maximum (all must be finite)."""
    numbers = _as_numbers(values)
    if numbers is None:
        raise InvalidInputError(f"{what} must hold numbers, not {values.dtype} values")
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise InvalidInputError(
            f"{what} has {int(bad.sum())} non-finite values (first at {int(np.argmax(bad))}): "
            "every point needs a finite size"
        )
    low, high = float(numbers.min()), float(numbers.max())
    if high <= low:
        return np.full(len(numbers), 127, np.uint8)
    return np.rint((numbers - low) * (255 / (high - low))).astype(np.uint8)


def filter_mask(
    query: str, texts: Sequence[str], columns: Mapping[str, Any]
) -> tuple[np.ndarray | None, str]:
    """Which points match the filter box: ``(uint8 mask or None for no filter, error)``.

    ``column=value`` matches the points whose column (``columns[name]()`` gives its values)
    equals ``value`` (as text, or as a number for numbers); anything else matches the texts
    that contain it, case-insensitively.
    """
    query = query.strip()
    if not query:
        return None, ""
    name, sep, wanted = query.partition("=")
    name, wanted = name.strip(), wanted.strip()
    if sep and name in columns:
        values = columns[name]()
        numbers = _as_numbers(values)
        try:
            target = float(wanted)
        except ValueError:
            target = None
        if numbers is not None and target is not None:
            return (numbers == target).astype(np.uint8), ""
        if values.dtype.kind in "biuUS":
            strings = values.astype(str)
        else:
            strings = np.array(["" if _is_missing(v) else str(v) for v in values])
        if wanted.lower() in ("true", "false") and values.dtype.kind == "b":
            return (values == (wanted.lower() == "true")).astype(np.uint8), ""
        return (strings == wanted).astype(np.uint8), ""
    needle = query.casefold()
    return np.fromiter((needle in t.casefold() for t in texts), np.uint8, len(texts)), ""
