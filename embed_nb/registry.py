"""The kernel's resident models: load under a name, pick the current one, list, unload.

A kernel usually keeps one or two models loaded for its whole life. The registry holds them by
name and remembers which is current, so every ``%embed`` and every API call without ``model=``
uses the same one. With nothing loaded, the first call loads the default model and says so,
once.

The module-level functions work on the kernel's registry (:data:`REGISTRY`)::

    from embed_nb import registry
    registry.load("all-minilm-l6-v2")
    registry.load("hf://owner/repo/reranker.gguf", name="rr", make_current=False)
    registry.get("rr").rerank("query", ["doc a", "doc b"])
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError, ModelClosedError

if TYPE_CHECKING:
    from .engine.protocol import EmbeddingModel

__all__ = [
    "REGISTRY",
    "ModelRegistry",
    "Resident",
    "checked_source",
    "current",
    "get",
    "list_models",
    "load",
    "unload",
    "use",
]


@dataclass
class Resident:
    """A loaded model and how it was loaded (so a variant can be loaded the same way)."""

    name: str
    model: EmbeddingModel
    source: str | None
    options: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0
    auto: bool = False  # loaded because nothing was, not by the user

    def summary(self) -> str:
        model = self.model
        if model.closed:
            return "closed"
        kind = getattr(model, "kind", "local")
        dim = getattr(model, "n_embd", "?")
        # A projector adds images (and audio): say so, it is why one was loaded.
        extra = [m for m in getattr(model.info, "modalities", ("text",)) if m != "text"]
        media = f", embeds text and {' and '.join(extra)}" if extra else ""
        return f"{kind}, pooling {model.pooling}, dim {dim}{media}"


class ModelRegistry:
    """Models by name, plus the current one.

    Args:
        default_source: what loads when a model is needed and none is loaded; None (the
            default) follows the kernel's settings (``%config EmbedMagics.default_model``).
        notify: how the registry tells the user it loaded the default model (``print``).
    """

    def __init__(
        self,
        default_source: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self._default_source = default_source
        self.notify = notify or (lambda message: print(message, flush=True))
        self._residents: dict[str, Resident] = {}
        self._current: str | None = None
        self._lock = threading.RLock()

    @property
    def default_source(self) -> str:
        """What loads when a model is needed and none is loaded: the source this registry was
        made with, else :attr:`embed_nb.settings.Settings.default_model`, read at each use."""
        if self._default_source is not None:
            return self._default_source
        from .settings import SETTINGS

        return SETTINGS.default_model

    @default_source.setter
    def default_source(self, source: str | None) -> None:
        self._default_source = None if source is None else checked_source(source)

    # --- loading -------------------------------------------------------------------------

    def load(
        self,
        source: str | os.PathLike[str],
        *,
        name: str | None = None,
        make_current: bool = True,
        **options: Any,
    ) -> EmbeddingModel:
        """Load ``source`` (a path, ``hf://...``, the default model's name or a server URL)
        and keep it under ``name`` (default: the model's own name).

        A model already loaded under that name is closed once the new one has loaded.
        ``options`` go to :func:`embed_nb.load_model` (``pooling``, ``n_ctx``,
        ``n_gpu_layers``, ``n_threads``...).
        """
        from .loading import load_model

        if name is not None:
            name = _checked_name(name)
        text = checked_source(source)
        started = time.perf_counter()
        model = load_model(text, **({"name": name} if name else {}), **options)
        seconds = time.perf_counter() - started
        return self._register(model, name, text, options, seconds, make_current)

    def add(
        self, model: EmbeddingModel, *, name: str | None = None, make_current: bool = True
    ) -> EmbeddingModel:
        """Keep an already loaded model (from :func:`embed_nb.load_model`) under a name."""
        return self._register(model, name, None, {}, 0.0, make_current)

    def _register(
        self,
        model: EmbeddingModel,
        name: str | None,
        source: str | None,
        options: dict[str, Any],
        seconds: float,
        make_current: bool,
        auto: bool = False,
    ) -> EmbeddingModel:
        key = _checked_name(name or model.name)
        with self._lock:
            old = self._residents.get(key)
            self._residents[key] = Resident(key, model, source, dict(options), seconds, auto)
            if make_current or self._current is None:
                self._current = key
        if old is not None and old.model is not model:
            old.model.close()
        return model

    # --- choosing ------------------------------------------------------------------------

    @property
    def current(self) -> str | None:
        """The name of the current model, or None."""
        return self._current

    def use(self, name: str) -> EmbeddingModel:
        """Make the model loaded under ``name`` the current one."""
        with self._lock:
            resident = self._resident(name)
            self._current = resident.name
            return resident.model

    def get(
        self, model: str | EmbeddingModel | None = None, *, default: str | None = None
    ) -> EmbeddingModel:
        """A model by name, the model object itself, or (``None``) the current model.

        With no model loaded, ``get()`` loads ``default`` (else :attr:`default_source`) and
        says so.
        """
        if model is not None and not isinstance(model, str):
            if not callable(getattr(model, "embed", None)) or not hasattr(model, "fingerprint"):
                raise InvalidInputError(
                    "model must be a loaded model (from load_model), the name of one in the "
                    f"registry, or None for the current model, not {type(model).__name__}"
                )
            return model
        with self._lock:
            if model is not None:
                return self._resident(model).model
            if self._current is None:
                source = default or self.default_source
                self.notify(
                    f"embed_nb: no model loaded, so loading the default model {source!r} "
                    "(choose another with %embed_model load SOURCE)"
                )
                started = time.perf_counter()
                from .loading import load_model

                loaded = load_model(source)
                self._register(
                    loaded, None, source, {}, time.perf_counter() - started, True, auto=True
                )
            resident = self._residents[self._current]  # type: ignore[index]
        if resident.model.closed:
            raise ModelClosedError(
                f"model {resident.name!r} was closed; load it again with %embed_model load "
                f"(or registry.load)"
            )
        return resident.model

    def resident(self, name: str | None = None) -> Resident:
        """The record of a loaded model (the current one by default)."""
        with self._lock:
            if name is None:
                if self._current is None:
                    raise InvalidInputError(
                        "no model is loaded; load one with %embed_model load SOURCE"
                    )
                name = self._current
            return self._resident(name)

    def _resident(self, name: str) -> Resident:
        resident = self._residents.get(name)
        if resident is None:
            loaded = ", ".join(self._residents) or "none"
            raise InvalidInputError(
                f"no model named {name!r} is loaded (loaded: {loaded}); "
                f"load it with %embed_model load SOURCE --name {name}"
            )
        return resident

    def with_pooling(self, model: EmbeddingModel, pooling: str) -> EmbeddingModel:
        """The same model loaded again with another pooling (e.g. ``none`` for per-token
        vectors), kept as ``NAME:POOLING``; loaded once, then reused."""
        if model.pooling == pooling:
            return model
        with self._lock:
            base = next((r for r in self._residents.values() if r.model is model), None)
            if base is None or base.source is None:
                raise InvalidInputError(
                    f"model {model.name!r} pools {model.pooling!r}; for pooling {pooling!r} load "
                    f"it with %embed_model load SOURCE --pooling {pooling} --name NAME"
                )
            key = f"{base.name}:{pooling}"
            variant = self._residents.get(key)
            if variant is not None and not variant.model.closed:
                return variant.model
            options = {**base.options, "pooling": pooling}
            return self.load(base.source, name=key, make_current=False, **options)

    # --- listing and unloading -----------------------------------------------------------

    def list(self) -> list[Resident]:
        """The loaded models, in load order."""
        with self._lock:
            return list(self._residents.values())

    def unload(self, name: str) -> None:
        """Close the model loaded under ``name`` and forget it. If it was current, the most
        recently loaded remaining model becomes current."""
        with self._lock:
            resident = self._resident(name)
            del self._residents[resident.name]
            if self._current == resident.name:
                self._current = next(reversed(self._residents), None)
        resident.model.close()

    def unload_all(self) -> None:
        for name in list(self._residents):
            self.unload(name)

    def __contains__(self, name: object) -> bool:
        return name in self._residents

    def __len__(self) -> int:
        return len(self._residents)

    def __repr__(self) -> str:
        if not self._residents:
            return "<ModelRegistry: no models loaded>"
        lines = [
            f"{'*' if r.name == self._current else ' '} {r.name}  ({r.summary()})"
            for r in self._residents.values()
        ]
        return "\n".join(lines)


def checked_source(source: object) -> str:
    """A model source as text; a clear error for what cannot name a model (None, a number,
    bytes, a str holding NUL, a URL that does not parse)."""
    from .loading import SOURCE_KINDS
    from .paths import path_text

    text = path_text(source, "the model source", SOURCE_KINDS)
    if "://" in text:
        scheme = text.strip().partition("://")[0].lower()
        if scheme in ("http", "https"):
            from .engine.remote import Endpoint

            # Endpoint.parse checks host and port, and its messages never repeat the
            # credentials, query or fragment a URL may carry a key in.
            Endpoint.parse(text)
            return text
    if not text.strip():
        raise InvalidInputError(f"the model source is empty; give {SOURCE_KINDS}")
    if "://" in text:
        from urllib.parse import urlsplit

        try:
            urlsplit(text).port  # noqa: B018 (parsing is the check: a bad port or host raises)
        except ValueError as error:
            raise InvalidInputError(f"{text!r} is not a valid URL: {error}") from None
    return text


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"a model name must be a non-empty str, not {name!r}")
    return name.strip()


#: The kernel's registry, which the magics and the API use.
REGISTRY = ModelRegistry()


def load(
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    make_current: bool = True,
    **options: Any,
) -> EmbeddingModel:
    """Load a model into the kernel's registry; see :meth:`ModelRegistry.load`."""
    return REGISTRY.load(source, name=name, make_current=make_current, **options)


def use(name: str) -> EmbeddingModel:
    """Make a loaded model current; see :meth:`ModelRegistry.use`."""
    return REGISTRY.use(name)


def get(model: str | EmbeddingModel | None = None) -> EmbeddingModel:
    """A loaded model by name, or the current one (loading the default if none is)."""
    return REGISTRY.get(model)


def current() -> str | None:
    """The name of the current model, or None."""
    return REGISTRY.current


def list_models() -> list[Resident]:
    """The loaded models."""
    return REGISTRY.list()


def unload(name: str) -> None:
    """Close a loaded model; see :meth:`ModelRegistry.unload`."""
    REGISTRY.unload(name)
