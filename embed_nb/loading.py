"""Loading a model from any source the user names: a path, hf://..., a name, or a server URL."""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import LocalModel
from .errors import InvalidInputError, ModelLoadError, ModelNotFoundError
from .paths import path_text

#: What a model source may be, as messages say it.
SOURCE_KINDS = "a .gguf file, hf://..., a model name or an http(s):// URL"

if TYPE_CHECKING:
    from .engine.remote import RemoteModel


def is_remote_source(source: object) -> bool:
    """Whether ``source`` names a server (``http://`` or ``https://``) rather than a file."""
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


def _keyword_options(cls: type) -> frozenset[str] | None:
    """The keyword options ``cls(...)`` takes; None when it takes any (``**kwargs``)."""
    parameters = list(inspect.signature(cls).parameters.values())[1:]  # after path / url
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


@functools.cache
def local_options() -> frozenset[str] | None:
    """The options a local model takes, read from :class:`LocalModel`'s signature."""
    return _keyword_options(LocalModel)


@functools.cache
def remote_options() -> frozenset[str] | None:
    """The options a server URL takes, read from :class:`RemoteModel`'s signature."""
    from .engine.remote import RemoteModel

    return _keyword_options(RemoteModel)


def load_model(source: str | os.PathLike[str], **options: Any) -> LocalModel | RemoteModel:
    """Load a GGUF model into this process and keep it resident, or connect to a server.

    Args:
        source: a path to a ``.gguf`` file, ``hf://owner/repo/file.gguf``, the name of the
            bundled default model, ``"all-minilm-l6-v2"``, or the URL of a server,
            ``http://host:8080`` (see :class:`~embed_nb.engine.remote.RemoteModel`).
        **options: for a local model, the fields of
            :class:`~embed_nb.engine.options.LocalOptions` (the keyword arguments of
            :class:`~embed_nb.engine.LocalModel`):

        {local_options}

            for a URL, the fields of :class:`~embed_nb.engine.remote._options.RemoteOptions`
            (those of :class:`~embed_nb.engine.remote.RemoteModel`):

        {remote_options}

    Raises:
        InvalidInputError: ``source`` is not a str or path, or an option is unknown or
            belongs to the other kind of source.
    """
    text = _source_text(source)
    if is_remote_source(text):
        _check_options(options, remote=True, source=text)
        from .engine.remote import RemoteModel

        return RemoteModel(text, **options)
    _check_options(options, remote=False, source=text)
    return _load_local(source, options)


def _option_list(cls: type) -> list[str]:
    """One docstring line per option of an options dataclass: ``name=default``: what."""
    return [f"- ``{f.name}={f.default!r}``: {f.metadata['doc']}" for f in fields(cls) if f.init]


def user_options(*, remote: bool) -> tuple[str, ...]:
    """The options users give, as the error messages list them (test seams left out)."""
    from .engine.options import LocalOptions, option_names

    if remote:
        from .engine.remote._options import RemoteOptions

        return option_names(RemoteOptions)
    return option_names(LocalOptions)


def _document_options() -> None:
    """Write the option lists into :func:`load_model`'s docstring, from the dataclasses."""
    from .engine.options import LocalOptions
    from .engine.remote._options import RemoteOptions

    lists = {"local_options": LocalOptions, "remote_options": RemoteOptions}

    def expand(match: re.Match[str]) -> str:
        indent, key = match.groups()
        return "\n".join(indent + line for line in _option_list(lists[key]))

    if load_model.__doc__:  # None under python -OO
        load_model.__doc__ = re.sub(r"(?m)^( *)\{(\w+)\}$", expand, load_model.__doc__)


_document_options()


def _source_text(source: object) -> str:
    return path_text(source, "the model source", SOURCE_KINDS)


def _check_options(options: dict[str, Any], *, remote: bool, source: str) -> None:
    valid = remote_options() if remote else local_options()
    if valid is None:
        return
    unknown = sorted(options.keys() - valid)
    if not unknown:
        return
    other = local_options() if remote else remote_options()
    misplaced = [name for name in unknown if other is None or name in other]
    if misplaced:
        where = "a local model file" if remote else "a server URL (http://...)"
        raise InvalidInputError(
            f"{', '.join(misplaced)} only {'applies' if len(misplaced) == 1 else 'apply'} "
            f"to {where}, not to {source!r}; "
            f"options here: {', '.join(sorted(user_options(remote=remote)))}"
        )
    shown = user_options(remote=remote)
    hints = [
        f"{name} (did you mean {close[0]}?)" if close else name
        for name in unknown
        for close in [difflib.get_close_matches(name, shown, n=1)]
    ]
    raise InvalidInputError(
        f"unknown option {', '.join(hints)}; options for "
        f"{'a server URL' if remote else 'a local model'}: {', '.join(sorted(shown))}"
    )


def _load_local(source: str | os.PathLike[str], options: dict[str, Any]) -> LocalModel:
    """Resolve ``source`` to a file and load it, once more if the file vanished in between.

    The shared cache is pruned only of files unused for a week (see :mod:`embed_nb.paths`), but
    a user or another tool may still delete a file between resolving and opening it. Resolving
    again then finds the new file, or converts the default model again.
    """
    from .models import resolve_model_source

    for attempt in (1, 2):
        path = resolve_model_source(source)
        name = options.get("name") or _display_name(source, path)
        try:
            return LocalModel(path, **{**options, "name": name})
        except (OSError, ModelLoadError) as error:
            vanished = not path.exists()
            if not vanished and (attempt == 2 or not isinstance(error, FileNotFoundError)):
                raise
            if attempt == 2:
                raise ModelNotFoundError(
                    f"the model file {path} was deleted while it was being loaded, twice; "
                    "check what removes files from the cache directory, then load again"
                ) from None
    raise AssertionError("unreachable")


def _display_name(source: str | os.PathLike[str], path: os.PathLike[str]) -> str:
    text = os.fspath(source)
    if os.path.exists(text):
        return Path(os.fspath(path)).stem
    return text.removeprefix("hf://")
