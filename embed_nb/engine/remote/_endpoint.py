"""Where a remote server is: the URL a user gives, checked and split into an :class:`Endpoint`.

A URL that could smuggle something is refused with a message that never repeats its risky
parts: credentials (a key belongs in ``api_key=``), a query or fragment, control characters
(``urlsplit`` would drop them and read another host), or a path a request line cannot carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...errors import InvalidInputError
from ._secret import clean_text

__all__ = ["Endpoint", "shown_url"]

# Hostnames as DNS spells them; anything else (spaces, control characters, '%') is refused.
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")
# What a path may hold unescaped in a request line (RFC 3986 pchar, '/' and '%').
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


def shown_url(url: str) -> str:
    """A URL fit for an error message: no userinfo, query or fragment (they may hold a key)."""
    text = re.split(r"[?#]", url.strip(), maxsplit=1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        # Everything up to the last '@' may be userinfo, even where a '/' in a key has moved
        # the parser's idea of where the host ends.
        text = f"{scheme}://{rest.rpartition('@')[2]}"
    return repr(clean_text(text, 100))


@dataclass(frozen=True)
class Endpoint:
    """Where the server is: scheme, host, port and the path prefix every route goes under."""

    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: object) -> Endpoint:
        """Check and split a server URL.

        Raises:
            InvalidInputError: not an http(s) URL with a valid host and port, or it carries
                credentials, a query or a fragment (the message never repeats those parts).
        """
        if not isinstance(url, str):
            raise InvalidInputError(
                f"the server URL must be a str like http://127.0.0.1:8080, not {type(url).__name__}"
            )
        shown = shown_url(url)
        if re.search(r"[\x00-\x20\x7f]", url.strip()):
            # urlsplit would drop tabs and line breaks and read another host than was written.
            raise InvalidInputError(
                f"{shown} holds spaces or control characters; write it like http://127.0.0.1:8080"
            )
        if "@" in url:
            raise InvalidInputError(
                "put the API key in api_key= (or EMBED_NB_API_KEY), not in the URL"
            )
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
            port = parts.port
        except ValueError:
            raise InvalidInputError(
                f"{shown} is not a valid URL (host or port); write it like http://127.0.0.1:8080"
            ) from None
        if parts.scheme not in ("http", "https") or not host:
            raise InvalidInputError(
                f"{shown} is not an http(s) URL; write it like http://127.0.0.1:8080"
            )
        if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
            raise InvalidInputError(
                f"the server URL must not have a query or fragment (a key belongs in api_key=): "
                f"{shown}"
            )
        if not _valid_host(host):
            raise InvalidInputError(f"{shown} has an invalid host name")
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        if not 1 <= port <= 65535:
            raise InvalidInputError(f"{shown} has an invalid port; use 1 to 65535")
        path = parts.path.rstrip("/")
        if not _PATH.fullmatch(path) or len(path) > 1024:
            raise InvalidInputError(
                f"{shown} has characters a request path cannot carry; percent-encode them"
            )
        return cls(parts.scheme, host.lower(), port, path)

    def with_prefix(self, prefix: str) -> Endpoint:
        """The same server with another path prefix (a dialect's API base)."""
        return Endpoint(self.scheme, self.host, self.port, prefix)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal (urlsplit took it from brackets)
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME.fullmatch(host)) and ".." not in host
