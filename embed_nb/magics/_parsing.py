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

#: Says whether the word after an option whose value may be left out (``nargs="?"``, like
#: ``--cluster``) is its value; a word it refuses is text, or the next argument.
IsValue = Callable[[str], bool]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one UsageError line instead of exiting."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _usage(f"{self.prog}: {message} (see {self.prog}? for usage)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: invalid arguments")

    def parse(self, tokens: list[str], values: IsValue | None = None) -> argparse.Namespace:
        """Parse ``tokens``; ``values`` decides which words after an option whose value may
        be left out are its value (by default none are)."""
        args = self.parse_args(_bare_options_last(self, tokens, values))
        # Check the name a result goes to before any work, not after a long embed.
        if getattr(args, "out", None) is not None:
            _assignable(args.out, f"{self.prog} -o")
        return args


def _optional_value(parser: argparse.ArgumentParser) -> set[str]:
    """The spellings of the options whose value may be left out (``--cluster [ADDRESS]``)."""
    return {
        option
        for action in parser._actions
        if action.nargs == "?"
        for option in action.option_strings
    }


def _bare_options_last(
    parser: argparse.ArgumentParser, tokens: list[str], values: IsValue | None
) -> list[str]:
    """Move an option whose value may be left out to the end when the word after it is not
    its value, so that argparse does not take the next argument for it
    (``%embed_search --cluster "cats" docs``: "cats" is the query)."""
    optional = _optional_value(parser)
    if not optional:
        return tokens
    kept: list[str] = []
    bare: list[str] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token == "--":  # the rest are arguments, as argparse reads them
            return kept + bare + tokens[position:]
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if token in optional:
            if following is not None and _is_value(following, values):
                kept += [token, following]
                position += 2
                continue
            bare.append(token)
        else:
            kept.append(token)
        position += 1
    return kept + bare


def _is_value(word: str, values: IsValue | None) -> bool:
    return values is not None and not word.startswith("-") and values(word)


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


def _options_then_text(
    line: str, parser: _Parser, values: IsValue | None = None
) -> tuple[argparse.Namespace, str | None]:
    """Options first, then free text kept exactly as typed (``%embed -o v The cat sat``).

    A text in quotes may be followed by more options (``%embed "The cat" -o v``); ``--``
    ends the options (``%embed -- -5 degrees``). After an option whose value may be left out
    (``--cluster``), the next word is its value only when ``values`` says so; otherwise it
    starts the text.
    """
    takes_value = {
        option: action.nargs != 0 for action in parser._actions for option in action.option_strings
    }
    optional = _optional_value(parser)
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
                    word = _unquote(value.group(1))
                    if name in optional and not _is_value(word, values):
                        continue  # a bare --cluster: the word is text, or another option
                    options.append(word)
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
    return parser.parse(options, values), text


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
