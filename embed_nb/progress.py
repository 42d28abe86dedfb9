"""Progress bars for long embedding jobs: ``tqdm.auto``, fed by the engine's progress callback."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_PROGRESS_THRESHOLD", "Progress", "ProgressArg"]

#: Jobs with at least this many texts to embed (cache misses) show a bar by default.
DEFAULT_PROGRESS_THRESHOLD = 256

#: What API functions accept as ``progress``: ``None`` (a bar above the default threshold),
#: ``True`` / ``False`` (always / never), an ``int`` threshold, or a ``callable(done, total)``.
ProgressArg = bool | int | Callable[[int, int], None] | None


class Progress:
    """Counts texts done across the several engine calls of one job and draws one bar.

    Use as a context manager; :meth:`callback` gives the engine a ``progress(done, total)``
    function for one call that covers texts ``offset .. offset + total`` of the job.
    """

    def __init__(
        self,
        total: int,
        progress: ProgressArg = None,
        *,
        desc: str = "embedding",
        unit: str = "text",
    ) -> None:
        self.total = total
        self.done = 0
        self._user: Callable[[int, int], None] | None = None
        self._bar: Any = None
        show = False
        if callable(progress):
            self._user = progress
        elif progress is None:  # the kernel's setting (%config EmbedMagics.progress_threshold)
            from .settings import SETTINGS

            show = total >= SETTINGS.progress_threshold
        elif isinstance(progress, bool):
            show = progress
        elif isinstance(progress, int):
            show = total >= progress
        else:
            from .errors import InvalidInputError

            raise InvalidInputError(
                "progress must be None, True, False, an int threshold or a callable(done, total), "
                f"not {type(progress).__name__}"
            )
        if show and total > 0:
            self._bar = _make_bar(total, desc, unit)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def callback(self, offset: int, count: int) -> Callable[[int, int], None] | None:
        """A progress function for an engine call on texts ``offset .. offset + count`` of the job.

        The engine counts sequences (a chunked text is several), so its fraction is scaled to
        the call's texts.
        """
        if self._bar is None and self._user is None:
            return None

        def report(done: int, total: int) -> None:
            self.update(offset + (count * done) // max(total, 1))

        return report

    def update(self, done: int) -> None:
        done = min(done, self.total)
        if done <= self.done:
            return
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        if self._user is not None:
            self._user(done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _make_bar(total: int, desc: str, unit: str) -> Any:
    with warnings.catch_warnings():
        # Without ipywidgets tqdm.auto falls back to a text bar, and warns about it.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=True, dynamic_ncols=True)
