"""The files a path, a glob or a folder names (``%embed --image``, ``embed-nb embed --image``)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from ..errors import InvalidInputError
from . import _limits
from ._limits import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from ._types import Audio, Image, _reason, _short


def media_inputs(pattern: str, caption: str = "") -> list[Image | Audio]:
    """The image and audio files ``pattern`` names (see :func:`media_paths`), each with
    ``caption``: what ``%embed --image`` and ``embed-nb embed --image`` embed."""
    paths = media_paths(pattern)
    return [
        (Audio if path.suffix.lower() in AUDIO_EXTENSIONS else Image)(path, text=caption)
        for path in paths
    ]


def media_paths(pattern: str | os.PathLike[str]) -> list[Path]:
    """The files a ``%embed --image`` argument names, sorted.

    An existing file is itself; a directory gives its image and audio files (by extension, not
    recursive); anything else is a glob (``photos/*.jpg``, ``photos/**/*.png``) and gives the
    files it matches.

    Raises:
        InvalidInputError: nothing matches, or a directory holds no image or audio file.
    """
    if not isinstance(pattern, str | os.PathLike):
        raise InvalidInputError(f"a media path must be a str, not {type(pattern).__name__}")
    text = os.path.expanduser(os.fspath(pattern))
    path = Path(text)
    shown = _short(os.fspath(pattern))
    if path.is_dir():
        try:
            files = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in IMAGE_EXTENSIONS | AUDIO_EXTENSIONS and p.is_file()
            )
        except OSError as error:
            raise InvalidInputError(f"cannot list {shown}: {_reason(error)}") from None
        if not files:
            extensions = ", ".join(sorted(IMAGE_EXTENSIONS | AUDIO_EXTENSIONS))
            raise InvalidInputError(
                f"{shown} holds no image or audio file ({extensions}); give a glob such as "
                f"{shown}/**/*.png for files deeper down"
            )
        return files
    if path.exists():
        return [path]
    found: list[Path] = []
    if any(c in text for c in "*?["):
        for name in glob.iglob(text, recursive=True):
            if os.path.isfile(name):
                found.append(Path(name))
                if len(found) > _limits.MAX_MEDIA_PATHS:
                    raise InvalidInputError(
                        f"{shown} matches more than {_limits.MAX_MEDIA_PATHS:,} files; narrow it"
                    )
    if not found:
        raise InvalidInputError(
            f"no file matches {shown}; check the path (a file, a directory, or a glob such as "
            "photos/*.jpg or photos/**/*.png)"
        )
    return sorted(found)
