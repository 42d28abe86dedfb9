"""The kernel's defaults, in one place that every front end reads.

The API, the registry, the widgets, the magics and the CLI all take their defaults (which model
loads when none is, whether and where vectors are cached, how they are normalised, when a
progress bar shows) from :data:`SETTINGS`. ``%config EmbedMagics.<name> = value`` writes
through to it, so one ``%config`` line changes what every front end does::

    from embed_nb.settings import SETTINGS
    SETTINGS.cache_dir = "/tmp/my-cache"      # what %config EmbedMagics.cache_dir = ... does
    with SETTINGS.override(normalize=1):      # for a block, then back
        ...

Every value is checked when it is set, with the same clear errors the API gives, so a bad value
never waits to fail inside a later call. Later settings are added as one more entry in
:data:`FIELDS` and one check.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError
from .models import DEFAULT_MODEL
from .progress import DEFAULT_PROGRESS_THRESHOLD

if TYPE_CHECKING:
    from .cache import EmbeddingCache

__all__ = ["FIELDS", "SETTINGS", "Field", "Settings"]


# --- the checks (heavy modules imported late: importing settings stays cheap) ------------------


def _check_model(value: object) -> str:
    from .registry import checked_source

    return checked_source(value)


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"must be True or False, not {value!r}")
    return value


def _check_dir(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"must be a str (a directory, or '' for default), not {value!r}")
    if "\x00" in value:
        raise InvalidInputError("a directory name cannot hold a NUL")
    return value


def _check_cache_dtype(value: object) -> str:
    from .cache_rows import check_storage_dtype

    return check_storage_dtype(value)


def _check_normalize(value: object) -> int:
    from .engine.normalize import check_normalize

    return check_normalize(value)


def _check_threshold(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"must be a whole number of texts, not {value!r}")
    return value


@dataclass(frozen=True)
class Field:
    """One setting: its default, its check, and what it means (the magics' trait help)."""

    default: Any
    check: Callable[[object], Any]
    help: str


#: Every setting, by name. The magics' traits mirror these names one for one.
FIELDS: dict[str, Field] = {
    "default_model": Field(
        DEFAULT_MODEL, _check_model, "The model loaded when one is needed and none is loaded."
    ),
    "cache": Field(
        True, _check_bool, "Keep embeddings in the on-disk cache (and find them there)."
    ),
    "cache_dir": Field(
        "", _check_dir, "Directory of the embedding cache; empty means the user cache directory."
    ),
    "cache_dtype": Field(
        "float32",
        _check_cache_dtype,
        "How the cache writes new vectors: 'float32' (exact) or 'int8' (per-vector scale, "
        "about 4x less disk, cosine >= 0.9999); both are read back as float32.",
    ),
    "normalize": Field(
        2, _check_normalize, "Default normalisation: -1 none, 0 max-abs, 1 L1, 2 L2, p > 2 p-norm."
    ),
    "progress_threshold": Field(
        DEFAULT_PROGRESS_THRESHOLD,
        _check_threshold,
        "Show a progress bar when at least this many texts must be embedded.",
    ),
}

Listener = Callable[[str, Any], None]


class Settings:
    """The defaults every front end reads; each assignment is checked (``InvalidInputError``)."""

    default_model: str
    cache: bool
    cache_dir: str
    cache_dtype: str
    normalize: int
    progress_threshold: int

    def __init__(self, **values: Any) -> None:
        state = {name: field.default for name, field in FIELDS.items()}
        object.__setattr__(self, "_values", state)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_listeners", [])
        for name, value in values.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"embed_nb has no setting {name!r}; the settings are {list(FIELDS)}")

    def __setattr__(self, name: str, value: Any) -> None:
        field = FIELDS.get(name)
        if field is None:
            raise AttributeError(
                f"embed_nb has no setting {name!r}; the settings are {list(FIELDS)}"
            )
        try:
            checked = field.check(value)
        except InvalidInputError as error:
            raise InvalidInputError(f"{name}: {error}") from None
        with self._lock:
            changed = self._values[name] != checked
            self._values[name] = checked
        if changed:
            self._notify(name, checked)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(FIELDS))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"Settings({inner})"

    def as_dict(self) -> dict[str, Any]:
        """The current values, by name."""
        with self._lock:
            return dict(self._values)

    def update(self, **values: Any) -> None:
        """Set several values; each is checked (and none is set if one is refused)."""
        for name, value in values.items():  # check all first: all or nothing
            field = FIELDS.get(name)
            if field is None:
                raise AttributeError(f"embed_nb has no setting {name!r}")
            field.check(value)
        for name, value in values.items():
            setattr(self, name, value)

    def reset(self) -> None:
        """Every value back to its default."""
        self.update(**{name: field.default for name, field in FIELDS.items()})

    @contextlib.contextmanager
    def override(self, **values: Any) -> Iterator[Settings]:
        """Set values for a ``with`` block, then put the old ones back."""
        old = {name: getattr(self, name) for name in values}
        self.update(**values)
        try:
            yield self
        finally:
            self.update(**old)

    # --- what the settings choose ------------------------------------------------------

    def cache_store(self) -> EmbeddingCache | None:
        """The cache the settings name (None when :attr:`cache` is off)."""
        if not self.cache:
            return None
        from .cache import get_cache

        return get_cache(self.cache_dir or None, dtype=self.cache_dtype)

    # --- listeners: the magics' traits follow changes made here ------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(name, value)`` on every change. A bound method is held weakly,
        so an object that listens (the magics) can still be collected."""
        ref: Callable[[], Listener | None] = (
            weakref.WeakMethod(listener)
            if hasattr(listener, "__self__")
            else _strong(listener)
        )
        with self._lock:
            self._listeners.append(ref)

    def _notify(self, name: str, value: Any) -> None:
        with self._lock:
            alive = [(ref, ref()) for ref in self._listeners]
            self._listeners[:] = [ref for ref, listener in alive if listener is not None]
        for _, listener in alive:
            if listener is not None:
                listener(name, value)


def _strong(listener: Listener) -> Callable[[], Listener]:
    return lambda: listener


#: The kernel's settings (one per process), read by every front end.
SETTINGS = Settings()
