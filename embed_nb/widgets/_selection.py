"""The selection as a table: the kernel side of the ProjectionView's linked table.

The table under the map lists the selected points: their frame label, their text and a few
columns of the frame the view was given (``frame=``, one row per point). Nothing of the frame
is synced up front: the front end asks for one page of rows at a time (``table_rows``), in
the order it shows them, so ten thousand selected rows cost what the ~20 visible ones cost.
Sorting happens here, on the full selection (numbers as numbers, text case-folded), and the
order is kept until the selection or the sort changes.

From Python, :attr:`SelectionTable.selection` is the selected rows of the frame as a
DataFrame (a ``text`` column when there is no frame); setting it to rows of the frame, index
labels or a boolean mask selects those points, and the table scrolls to the first of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from ..errors import InvalidInputError
from ._base import clip_text

__all__ = ["SelectionTable", "cell_text", "checked_frame", "shown_columns"]

# Columns shown by default (the first scalar ones); users pick others with ``table_columns``.
MAX_DEFAULT_COLUMNS = 6
# The most rows one page request may ask for, and how much of a text or a cell is sent.
MAX_ROWS_PER_REQUEST = 500
TEXT_CHARS = 300
CELL_CHARS = 120
# Sort keys for the two columns every table has.
SORT_INDEX = -2
SORT_TEXT = -1


def checked_frame(frame: Any, n: int) -> Any:
    """``frame`` if it is a pandas DataFrame with one row per point; None stays None."""
    if frame is None:
        return None
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame must be a pandas DataFrame with one row per point, not {type(frame).__name__}"
        )
    if len(frame) != n:
        raise InvalidInputError(
            f"frame has {len(frame)} rows for {n} points: pass one row per point"
        )
    return frame


def _is_scalar_column(column: Any) -> bool:
    """False for a column of arrays or lists (an ``embedding`` column): no cell to show."""
    if column.dtype.kind != "O":
        return True
    first = column.first_valid_index()
    if first is None:
        return True
    value = column.loc[first]
    value = value.iloc[0] if hasattr(value, "iloc") else value  # a duplicated label
    return not isinstance(value, np.ndarray | list | tuple | dict | set)


def shown_columns(frame: Any) -> list[Any]:
    """The frame columns a table shows by default: the first few scalar ones, not ``text``
    (the view's own text column shows the texts)."""
    if frame is None:
        return []
    chosen = []
    for k, name in enumerate(frame.columns):
        if str(name) == "text" or not _is_scalar_column(frame.iloc[:, k]):
            continue
        chosen.append(name)
        if len(chosen) == MAX_DEFAULT_COLUMNS:
            break
    return chosen


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    kind = column.dtype.kind
    return kind in "iufb" or pd.api.types.is_datetime64_any_dtype(column.dtype)


def cell_text(value: Any) -> str:
    """One cell as the table shows it: numbers short, missing values empty, text clipped."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else format(float(value), ".6g")
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        import pandas as pd

        if value is pd.NaT or (np.ndim(value) == 0 and pd.isna(value)):
            return ""
    except (TypeError, ValueError):
        pass
    return clip_text(str(value), CELL_CHARS)


def _order(values: Any, descending: bool) -> np.ndarray:
    """Stable positions that sort ``values`` (a Series); missing values last either way.

    Numbers sort as numbers; strings case-folded; a column of mixed types by its text.
    """
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if series.dtype.kind == "O" and series.map(lambda v: isinstance(v, str) or v is None).all():
        series = series.map(lambda v: v.casefold() if isinstance(v, str) else v)
    try:
        ordered = series.sort_values(kind="stable", ascending=not descending, na_position="last")
    except TypeError:  # mixed types: compare them as text
        as_text = series.map(lambda v: "" if v is None else str(v).casefold())
        ordered = as_text.sort_values(kind="stable", ascending=not descending)
    return ordered.index.to_numpy(dtype=np.int64)


def _is_mask(labels: Any) -> bool:
    """True for booleans only (a mask), as opposed to index labels."""
    if isinstance(labels, np.ndarray) or hasattr(labels, "dtype"):
        return np.asarray(labels).dtype.kind == "b"
    items = list(labels)
    return bool(items) and all(isinstance(v, bool | np.bool_) for v in items)


class SelectionTable(traitlets.HasTraits):
    """The table's traits and kernel handlers, mixed into a view that has ``selected``.

    The view calls :meth:`_init_selection_table` once its texts are set.
    """

    # The frame columns the table shows (their names as text); set it to show others.
    table_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # One flag per shown column: numbers are right-aligned (and sorted as numbers).
    table_numeric = traitlets.List(traitlets.Bool()).tag(sync=True)
    # A point the table should scroll to (its row in the current order); -1 for none.
    table_scroll_to = traitlets.Int(-1).tag(sync=True)

    def _init_selection_table(self, frame: Any, labels: Any = None) -> None:
        """Keep the frame (validated), the labels of points without one, and answer pages."""
        n = int(self._n_points)  # type: ignore[attr-defined]
        self._table_frame = checked_frame(frame, n)
        if labels is not None and len(labels) != n:
            labels = None
        self._table_labels = labels
        self._table_keys: list[Any] = []
        self._table_sorted: tuple[tuple[Any, ...], np.ndarray] | None = None
        self._handlers["table_rows"] = self._on_table_rows  # type: ignore[attr-defined]
        self.observe(self._on_table_columns, names="table_columns")
        self.observe(self._forget_table_order, names="selected")
        keys = shown_columns(self._table_frame)
        self._table_keys = keys
        with self.hold_trait_notifications():
            self.table_numeric = self._numeric_flags(keys)
            self.table_columns = [str(k) for k in keys]

    # --- Python side -------------------------------------------------------------------

    @property
    def selection(self) -> Any:
        """The selected rows as a pandas DataFrame, in point order.

        The rows of ``frame`` when the view has one; else a ``text`` column, indexed by the
        input's index (a pandas Series or DataFrame column) or by position.

        Set it to rows of the frame (a DataFrame or Series: their index labels count), to
        index labels, or to a boolean mask with one value per point; None clears it. The
        points are highlighted on the map and the table scrolls to the first of them.
        """
        import pandas as pd

        positions = np.asarray(self.selected, dtype=np.int64)
        if self._table_frame is not None:
            return self._table_frame.iloc[positions]
        texts = self._texts  # type: ignore[attr-defined]
        return pd.DataFrame(
            {"text": [texts[i] for i in positions]}, index=self._row_index()[positions]
        )

    @selection.setter
    def selection(self, rows: Any) -> None:
        positions = self._positions_of(rows)
        self.selected = positions
        self.table_scroll_to = -1  # a change even when it is the same point again
        self.table_scroll_to = int(positions[0]) if len(positions) else -1

    def _row_index(self) -> Any:
        """The labels of the points: the frame's index, the input's index, or positions."""
        import pandas as pd

        if self._table_frame is not None:
            return self._table_frame.index
        if self._table_labels is not None:
            return pd.Index(self._table_labels)
        return pd.RangeIndex(int(self._n_points))  # type: ignore[attr-defined]

    def _positions_of(self, rows: Any) -> np.ndarray:
        """Point positions for rows of the frame, index labels or a boolean mask."""
        import pandas as pd

        n = int(self._n_points)  # type: ignore[attr-defined]
        if rows is None:
            return np.zeros(0, np.int64)
        if isinstance(rows, pd.DataFrame):
            labels: Any = rows.index
        elif isinstance(rows, pd.Series) and rows.dtype.kind != "b":
            labels = rows.index
        elif isinstance(rows, str | bytes) or np.ndim(rows) == 0:
            labels = [rows]
        else:
            labels = rows
        if _is_mask(labels):
            mask = np.asarray(labels, dtype=bool)
            if mask.shape != (n,):
                raise InvalidInputError(
                    f"a boolean mask for view.selection needs one value per point ({n}), "
                    f"not {mask.size}"
                )
            return np.flatnonzero(mask)
        wanted = pd.Index(labels if isinstance(labels, pd.Index) else list(labels))
        index = self._row_index()
        missing = wanted[~wanted.isin(index)]
        if len(missing):
            few = ", ".join(repr(v) for v in list(dict.fromkeys(missing.tolist()))[:3])
            raise InvalidInputError(
                f"view.selection: {len(missing)} of {len(wanted)} labels are not in the "
                f"frame's index ({few}); pass rows of the frame, its index labels, or set "
                "view.selected to point positions"
            )
        return np.flatnonzero(index.isin(wanted))

    # --- shown columns -----------------------------------------------------------------

    def _numeric_flags(self, keys: Sequence[Any]) -> list[bool]:
        frame = self._table_frame
        return [_is_numeric(frame[key]) for key in keys] if frame is not None else []

    def _on_table_columns(self, change: Any) -> None:
        names = list(change["new"])
        if names == [str(k) for k in self._table_keys]:
            return
        frame = self._table_frame
        by_name = {str(c): c for c in frame.columns} if frame is not None else {}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            self.table_columns = [str(k) for k in self._table_keys]  # keep what works
            have = ", ".join(list(by_name)[:6]) or "none: pass frame="
            raise InvalidInputError(
                f"table_columns: {', '.join(map(repr, unknown[:3]))} not in the frame "
                f"(its columns: {have})"
            )
        self._table_keys = [by_name[name] for name in names]
        self._table_sorted = None
        self.table_numeric = self._numeric_flags(self._table_keys)

    # --- pages of rows -----------------------------------------------------------------

    def _forget_table_order(self, change: Any) -> None:
        self._table_sorted = None

    def _sorted_selection(self, column: int, descending: bool) -> np.ndarray:
        """The selected positions in the order the table shows them (cached)."""
        selected = np.asarray(self.selected, dtype=np.int64)
        key = (column, descending, len(selected))
        if self._table_sorted is not None and self._table_sorted[0] == key:
            return self._table_sorted[1]
        if column == SORT_INDEX or not len(selected):
            order = selected[::-1] if descending else selected
        elif column == SORT_TEXT:
            texts = self._texts  # type: ignore[attr-defined]
            order = selected[_order([texts[i] for i in selected], descending)]
        else:
            values = self._table_frame[self._table_keys[column]].iloc[selected]
            order = selected[_order(values.to_numpy(), descending)]
        self._table_sorted = (key, order)
        return order

    def _on_table_rows(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        column = int(content.get("sort", SORT_INDEX))
        if not SORT_INDEX <= column < len(self._table_keys):
            column = SORT_INDEX
        order = self._sorted_selection(column, bool(content.get("descending", False)))
        reply: dict[str, Any] = {"total": len(order), "sort": column}
        locate = content.get("locate")
        if isinstance(locate, int) and locate >= 0:
            ranks = np.flatnonzero(order == locate)
            reply["rank"] = int(ranks[0]) if len(ranks) else -1
        offset = max(0, int(content.get("offset", 0)))
        limit = max(0, min(int(content.get("limit", 100)), MAX_ROWS_PER_REQUEST))
        ids = order[offset : offset + limit]
        texts = self._texts  # type: ignore[attr-defined]
        labels = self._row_index()[ids]
        frame = self._table_frame
        cells = []
        if frame is not None and self._table_keys:
            block = frame[self._table_keys].iloc[ids]
            cells = [[cell_text(v) for v in row] for row in block.itertuples(index=False)]
        reply.update(
            offset=offset,
            ids=[int(i) for i in ids],
            labels=[cell_text(label) for label in labels],
            texts=[clip_text(texts[i], TEXT_CHARS) for i in ids],
            cells=cells,
        )
        return reply, []
