"""Reading the texts of ``-p``, ``-f FILE`` and ``-f -`` (stdin)."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import FileAccessError
from ..files import read_capped
from ..media import decode_media, media_inputs
from ._parser import _UsageError

#: The most bytes one -f file (or stdin) may hold; more is refused, not read (``/dev/zero``).
MAX_INPUT_BYTES = 64 * 1024**2


def read_text(path: str) -> str:
    """A file's text with one trailing newline dropped (llama.cpp's -f does the same).

    At most :data:`MAX_INPUT_BYTES` are read; a larger file (or an endless one) is refused.
    """
    try:
        if path == "-":
            # Bytes when there are any, so stdin decodes as UTF-8 whatever the locale says.
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                text = sys.stdin.read(MAX_INPUT_BYTES + 1)
                if len(text) > MAX_INPUT_BYTES:
                    raise _UsageError(f"stdin holds more than {MAX_INPUT_BYTES:,} characters")
            else:
                text = read_capped(stdin, MAX_INPUT_BYTES).decode("utf-8")
        else:
            text = read_capped(path, MAX_INPUT_BYTES).decode("utf-8")
    except FileAccessError as error:
        raise _UsageError(str(error)) from None
    except UnicodeDecodeError as error:
        where = "stdin" if path == "-" else path
        raise _UsageError(
            f"{where} is not UTF-8 text (byte {error.start} cannot be decoded)"
        ) from None
    return text.removesuffix("\n")


def split(text: str, separator: str) -> list[str]:
    """Split on every separator, keeping empty parts, as llama-embedding's split_lines does."""
    if not separator:
        raise _UsageError("the separator must not be empty")
    return text.split(separator)


def gather_documents(args: Any) -> list[str]:
    """``rerank``'s and ``search``'s documents: those after the query, then each ``-f`` file's."""
    documents = list(args.documents)
    for path in args.files or []:
        documents.extend(split(read_text(path), args.separator))
    return documents


def gather_texts(inputs: list[tuple[str, str]] | None, separator: str) -> list[Any]:
    """The texts of -p and -f, and the images and audio of --image (decoded), in order."""
    if not inputs:
        raise _UsageError("no text to embed: give -p TEXT or -f FILE (-f - reads stdin)")
    texts: list[Any] = []
    for kind, value in inputs:
        if kind == "media":
            texts.extend(decode_media(item, len(texts)) for item in media_inputs(value))
        else:
            texts.extend(split(read_text(value) if kind == "file" else value, separator))
    return texts
