"""The API key of a remote model: where it may be sent, and how it is kept out of every text.

Policy (documented in ``docs/remote.md``):

- An ``api_key=`` passed by the user goes to the server the user named. A key taken from the
  environment (``$EMBED_NB_API_KEY``, ``$LLAMA_API_KEY``, ``$OPENAI_API_KEY``) goes only to a
  loopback host, to a host listed in ``$EMBED_NB_API_KEY_HOSTS``, or (``$OPENAI_API_KEY`` only)
  to ``api.openai.com``. Elsewhere it is not sent: an environment variable set for one server
  must not reach every URL a notebook opens.
- No key is ever sent over plain ``http`` to a host that is not loopback, unless the caller
  passes ``allow_insecure=True``: anyone on the path could read it.
- A key that an HTTP header cannot carry (control characters such as CR/LF, spaces, non-ASCII)
  is refused with an error that does not show it.

:class:`Scrubber` blanks every known key out of text that leaves the remote model: the key as
is, in any letter case, URL-encoded, JSON-escaped and base64-encoded (alone, after
``Bearer ``, or at any offset inside a longer base64 string).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from ...errors import EmbedNbError, InvalidInputError, RemoteError

__all__ = [
    "API_KEY_ENV",
    "HOSTS_ENV",
    "Scrubber",
    "Secret",
    "clean_text",
    "is_loopback",
    "resolve_api_key",
    "shielded",
]

T = TypeVar("T")

#: Environment variables read for the API key, in order, when no ``api_key`` is passed.
API_KEY_ENV = {
    "llama-server": ("EMBED_NB_API_KEY", "LLAMA_API_KEY"),
    "openai": ("EMBED_NB_API_KEY", "OPENAI_API_KEY"),
}
#: Hosts (``host`` or ``host:port``, comma- or space-separated, ``*`` for any) that may receive
#: a key taken from the environment. Loopback hosts need no listing.
HOSTS_ENV = "EMBED_NB_API_KEY_HOSTS"
# The host a variable is named for receives it without listing.
_HOME_HOSTS = {"OPENAI_API_KEY": ("api.openai.com",)}
_MASK = "***"
# Visible ASCII only: http.client sends headers as latin-1 and refuses CR/LF with a ValueError
# that prints the header (the key) itself.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SHORTEST_ENCODED = 6  # shorter base64 fragments would blank ordinary words


class Secret:
    """A string that never shows itself: its repr and str are ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that needs it: the Authorization header."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every form of the secret (see :class:`Scrubber`) replaced by ``***``."""
        return Scrubber([self._value]).scrub(text)

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:  # pickling would write the key to disk
        raise TypeError("a Secret cannot be pickled")


def _base64_forms(raw: bytes) -> Iterator[str]:
    """What ``raw`` looks like inside any base64 text, at each of the three byte offsets.

    Only the characters that depend on ``raw`` alone are kept: the first group (shared with
    whatever came before) and the last (shared with what follows) are dropped unless they
    are whole.
    """
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = 4 if offset else 0
        end = len(encoded) - (4 if (offset + len(raw)) % 3 else 0)
        core = encoded[start:end]
        if len(core) >= _SHORTEST_ENCODED:
            yield core
            yield core.replace("+", "-").replace("/", "_")  # base64url


def _forms(value: str) -> Iterator[str]:
    """Every spelling of ``value`` a server might echo."""
    raw = value.encode("utf-8", "surrogatepass")
    yield value
    yield quote(value, safe="")
    yield quote_plus(value, safe="")
    yield json.dumps(value)[1:-1]
    yield from _base64_forms(raw)
    yield from _base64_forms(b"Bearer " + raw)
    yield from _base64_forms(b":" + raw)  # Basic auth: user:key
    yield raw.hex()


class Scrubber:
    """Blanks a set of secrets out of text, in every spelling a server might echo.

    Matching ignores letter case (an upper-cased echo is still the key).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for value in secrets if value for form in _forms(value) if form}
        # Longest first, so a longer form is blanked whole before a shorter one inside it.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None
        )

    def scrub(self, text: str) -> str:
        return self._pattern.sub(_MASK, text) if self._pattern is not None else text

    def clean(self, text: object, limit: int = 300) -> str:
        """Server-supplied text made safe to show: scrubbed, one line, at most ``limit`` chars.

        The whole text is scrubbed before it is cut, so a key is never cut in half.
        """
        return clean_text(self.scrub(str(text)), limit)


def clean_text(text: str, limit: int = 300) -> str:
    """``text`` on one line (control characters become a space), cut to ``limit`` characters."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine by its spelling alone (no DNS lookup, which could lie)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _checked_key(value: str, origin: str) -> Secret:
    value = value.strip()
    if not value:
        raise InvalidInputError(f"{origin} is empty; pass a non-empty key")
    if not _HEADER_SAFE.fullmatch(value):
        # Never show the value: the point is that it is a key.
        raise InvalidInputError(
            f"{origin} holds a character an HTTP header cannot carry (a line break, space, "
            "control or non-ASCII character); check where the key was copied from"
        )
    return Secret(value)


def _listed_hosts() -> list[str]:
    return [h.lower() for h in re.split(r"[\s,]+", os.environ.get(HOSTS_ENV, "")) if h]


def _env_key_allowed(var: str, host: str, port: int) -> bool:
    host = host.lower()
    if is_loopback(host) or host in _HOME_HOSTS.get(var, ()):
        return True
    bracketed = f"[{host}]" if ":" in host else host
    return any(entry in ("*", host, bracketed, f"{bracketed}:{port}") for entry in _listed_hosts())


def resolve_api_key(
    api_key: str | Secret | None,
    kind: str,
    url: str | None = None,
    *,
    allow_insecure: bool = False,
) -> Secret | None:
    """The key to send to ``url``: ``api_key``, else an environment key the policy allows.

    Args:
        api_key: the caller's key (a str or :class:`Secret`), or None.
        kind: ``"llama-server"`` or ``"openai"``: which environment variables apply.
        url: the server (``scheme://host:port/...``). Without it no environment key is used,
            since nothing says where it would go.
        allow_insecure: allow a key over plain http to a host that is not loopback.

    Raises:
        InvalidInputError: the key cannot be sent in a header, or it would cross plain http to
            another machine without ``allow_insecure=True``.
    """
    from urllib.parse import urlsplit

    if kind not in API_KEY_ENV:
        raise InvalidInputError(f"kind must be one of {', '.join(API_KEY_ENV)}")
    scheme, host, port = "", "", 0
    if url is not None:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    if isinstance(api_key, Secret):
        key, origin = _checked_key(api_key.reveal(), "api_key"), "api_key"
    elif api_key is not None:
        if not isinstance(api_key, str):
            raise InvalidInputError(f"api_key must be a str, not {type(api_key).__name__}")
        key, origin = _checked_key(api_key, "api_key"), "api_key"
    else:
        if url is None:
            return None
        found = next(
            ((v, os.environ[v]) for v in API_KEY_ENV[kind] if os.environ.get(v, "").strip()),
            None,
        )
        if found is None or not _env_key_allowed(found[0], host, port):
            return None  # set for another server: not ours to send
        key, origin = _checked_key(found[1], f"${found[0]}"), f"${found[0]}"
    if url is not None and scheme != "https" and not is_loopback(host) and not allow_insecure:
        raise InvalidInputError(
            f"refusing to send the key from {origin} over plain http to {host}: anyone on the "
            "network could read it. Use https, or pass allow_insecure=True on a trusted network"
        )
    return key


def env_key_skipped(kind: str, url: str) -> str | None:
    """The environment variable holding a key that the policy kept from ``url``, if any."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for var in API_KEY_ENV.get(kind, ()):
        if os.environ.get(var, "").strip():
            return None if _env_key_allowed(var, parts.hostname or "", port) else var
    return None


def known_secrets(key: Secret | None) -> list[str]:
    """The key in use and every key in the environment: all are blanked from shown text."""
    values = [key.reveal()] if key is not None else []
    for names in API_KEY_ENV.values():
        values += [os.environ[v].strip() for v in names if os.environ.get(v, "").strip()]
    return values


def shielded(method: Callable[..., T]) -> Callable[..., T]:
    """Run a method so that no exception leaves it showing a key (the last line of defence:
    messages are scrubbed where they are made, and this catches any that were not).

    The object's ``_scrubber`` does the blanking; before it exists errors pass as they are.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            scrubber: Scrubber | None = getattr(self, "_scrubber", None)
            if scrubber is None:
                raise
            text = str(error)
            clean = scrubber.scrub(text)
            if clean == text:
                raise
            if isinstance(error, EmbedNbError):
                error.args = (clean,)
                raise
            raise RemoteError(scrubber.clean(f"{type(error).__name__}: {clean}", 500)) from None

    return wrapper
