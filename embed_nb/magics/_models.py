"""``%embed_model`` and ``%embed_cache``: bound into :class:`EmbedMagics`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from .. import registry
from ..flags import describe_flags, given_options
from ._parsers import _MODEL_ACTIONS, _MODEL_LOAD, LOAD_OPTIONS
from ._parsing import _friendly, _split

if TYPE_CHECKING:
    from .._core import EmbedMagics
    from ..model_doctor import Diagnosis


@_friendly
def embed_model(self: EmbedMagics, line: str) -> Diagnosis | None:
    """Manage the kernel's resident models.

    Usage::

        %embed_model load SOURCE [--name N] [--pooling P] [-c N] [-t N] [-ngl N] [-fa on|off]
        %embed_model list
        %embed_model use NAME
        %embed_model info [NAME]
        %embed_model doctor [NAME]
        %embed_model unload NAME

    SOURCE is a .gguf path, hf://owner/repo/file.gguf, the default model's name
    (all-minilm-l6-v2), or a llama-server URL. Its options (the table in
    :mod:`embed_nb.flags`, shared with ``embed-nb``; the first spelling is llama.cpp's):

    {flags}
    """
    words = _split(line, "%embed_model")
    if not words or words[0] not in _MODEL_ACTIONS:
        raise UsageError(
            "%embed_model: say what to do: "
            + " | ".join(_MODEL_ACTIONS)
            + " (see %embed_model? for usage)"
        )
    action, rest = words[0], words[1:]
    reg = registry.REGISTRY
    if action == "load":
        args = _MODEL_LOAD.parse(rest)
        options = given_options(args, LOAD_OPTIONS)
        name = options.pop("name", None)
        model = reg.load(args.source, name=name, **options)
        resident = reg.resident(reg.current)
        print(
            f"loaded {resident.name!r} ({resident.summary()}) in "
            f"{resident.load_seconds:.1f} s; it is the current model"
        )
        del model
    elif action == "list":
        _no_more(rest, "list")
        residents = reg.list()
        if not residents:
            print(
                f"no models loaded; the first %embed loads the default model {reg.default_source!r}"
            )
        for r in residents:
            mark = "*" if r.name == reg.current else " "
            source = f"  {r.source}" if r.source else ""
            print(f"{mark} {r.name}  ({r.summary()}){source}")
    elif action == "use":
        name = _one_name(rest, "use")
        reg.use(name)
        print(f"current model: {name!r}")
    elif action == "info":
        if len(rest) > 1:
            raise UsageError("%embed_model info: at most one NAME")
        resident = reg.resident(rest[0] if rest else None)
        print(repr(resident.model.info))
    elif action == "doctor":
        if len(rest) > 1:
            raise UsageError("%embed_model doctor: at most one NAME")
        from ..model_doctor import doctor

        return doctor(rest[0] if rest else None)  # shown as HTML in a notebook
    else:
        name = _one_name(rest, "unload")
        reg.unload(name)
        now = reg.current
        print(f"unloaded {name!r}; current model: {now!r}" if now else f"unloaded {name!r}")
    return None


if embed_model.__doc__:  # None under python -OO
    embed_model.__doc__ = embed_model.__doc__.replace(
        "{flags}", describe_flags(LOAD_OPTIONS, indent="    ")
    )


def _one_name(rest: list[str], action: str) -> str:
    if len(rest) != 1:
        raise UsageError(f"%embed_model {action}: give exactly one NAME")
    return rest[0]


def _no_more(rest: list[str], action: str) -> None:
    if rest:
        raise UsageError(f"%embed_model {action}: takes no arguments, got {' '.join(rest)!r}")


# --- %embed_cache ---------------------------------------------------------------------------


@_friendly
def embed_cache(self: EmbedMagics, line: str) -> None:
    """Show or clear the embedding cache.

    Usage::

        %embed_cache info
        %embed_cache clear
    """
    words = _split(line, "%embed_cache")
    if words not in (["info"], ["clear"]):
        raise UsageError("%embed_cache: use %embed_cache info or %embed_cache clear")
    store = self._cache()
    if store is False:
        print("the cache is off (turn it on with %config EmbedMagics.cache = True)")
        return
    if words == ["info"]:
        print(repr(store.info()))
    else:
        removed = store.clear()
        print(f"cleared the cache: {removed:,} vectors removed from {store.path}")
