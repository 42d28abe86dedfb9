"""Magic arguments: argparse that fails as one UsageError line, and options-then-text lines."""

from __future__ import annotations

import argparse
import functools
import re
import shlex
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from IPython.core.error import UsageError

from ..errors import EmbedNbError
from ._names import _assignable

F = TypeVar("F", bound=Callable[..., Any])


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one UsageError line instead of exiting."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _usage(f"{self.prog}: {message} (see {self.prog}? for usage)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: invalid arguments")

    def parse(self, tokens: list[str]) -> argparse.Namespace:
        args = self.parse_args(tokens)
        # Check the name a result goes to before any work, not after a long embed.
        if getattr(args, "out", None) is not None:
            _assignable(args.out, f"{self.prog} -o")
        return args


def _split(line: str, prog: str) -> list[str]:
    """Shell-like words; a quote left open is a usage error, not a traceback."""
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f'{prog}: {error} (put text with quotes or spaces in "...")') from None


_TOKEN = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")
_NUMBER = re.compile(r"-\d")


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return shlex.split(token)[0]
    return token


def _options_then_text(line: str, parser: _Parser) -> tuple[argparse.Namespace, str | None]:
    """Options first, then free text kept exactly as typed (``%embed -o v The cat sat``).

    A text in quotes may be followed by more options (``%embed "The cat" -o v``); ``--``
    ends the options (``%embed -- -5 degrees``).
    """
    takes_value = {
        option: action.nargs != 0 for action in parser._actions for option in action.option_strings
    }
    options: list[str] = []
    text: str | None = None
    position = 0
    while (match := _TOKEN.match(line, position)) is not None:
        token = match.group(1)
        if token == "--" and text is None:
            text = line[match.end() :].strip() or None
            break
        if token.startswith("-") and len(token) > 1 and not _NUMBER.match(token):
            name = token.split("=", 1)[0]
            options.append(token)
            position = match.end()
            if "=" not in token and takes_value.get(name, False):
                value = _TOKEN.match(line, position)
                if value is not None:
                    options.append(_unquote(value.group(1)))
                    position = value.end()
            continue
        if text is not None:
            raise UsageError(
                f"{parser.prog}: unexpected {token!r} after the text; put options before the "
                "text, or the whole text in quotes"
            )
        if token[0] in "\"'" and len(token) >= 2 and token[-1] == token[0]:
            try:
                text = _unquote(token)
            except ValueError:
                text = token
            position = match.end()
            continue
        text = line[match.start(1) :].strip()
        break
    return parser.parse(options), text


def _unescape(sep: str) -> str:
    """``--sep '\\n\\n'`` means two newlines."""
    return sep.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _usage(message: str) -> UsageError:
    """A UsageError whose message is one printable line, whatever the user typed into it
    (a newline, a NUL, a lone surrogate that the output stream could not even encode)."""
    from ..display import one_line

    return UsageError(one_line(message))


def _friendly(method: F) -> F:
    """Turn errors the user can cause into one UsageError line."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except UsageError as error:
            raise _usage(str(error)) from None
        except EmbedNbError as error:
            raise _usage(f"{type(error).__name__}: {error}") from None
        except OSError as error:  # the machine's, not ours: a full disk, a missing directory
            raise _usage(f"{type(error).__name__}: {error}") from None
        except KeyboardInterrupt as interrupt:
            notes = getattr(interrupt, "__notes__", None) or []
            detail = " ".join(note.removeprefix("embed_nb: ") for note in notes)
            raise _usage(detail or "interrupted; the model is still loaded") from None

    return wrapper  # type: ignore[return-value]
