"""One model's view of its server: JSON calls through the transport, with errors made clear.

It adds to the transport what depends on the model: a 401/403 that says when an environment
key was held back from this host, and one wording for an answer of the wrong shape.
"""

from __future__ import annotations

from typing import Any

from ...errors import RemoteError
from ._http import HTTPTransport, Reply
from ._secret import HOSTS_ENV, Scrubber

__all__ = ["Client"]


class Client:
    """JSON requests to one server, with its scrubber and its key policy's verdict.

    Args:
        transport: sends the requests (retries, deadline and size caps are its job).
        scrubber: blanks every known key out of shown text.
        skipped_key: the environment variable whose key the policy kept from this host.
    """

    def __init__(
        self, transport: HTTPTransport, scrubber: Scrubber, skipped_key: str | None
    ) -> None:
        self.transport = transport
        self.scrubber = scrubber
        self.skipped_key = skipped_key

    def call(self, method: str, path: str, payload: Any = None, *, limit: int) -> Any:
        """One JSON request; anything but a 200 raises :class:`RemoteError`."""
        reply = self.transport.request(method, path, payload, limit=limit)
        self.check(reply, f"{method} {path}")
        return self.transport.parse_json(reply.body, f"{method} {path}")

    def check(self, reply: Reply, what: str) -> None:
        """Raise for any status but 200; a 401/403 says so when an environment key was held back."""
        try:
            self.transport.check_status(reply, what)
        except RemoteError as error:
            if error.status in (401, 403) and self.skipped_key is not None:
                raise RemoteError(
                    f"{error} (the key in ${self.skipped_key} was not sent to this host: list "
                    f"it in ${HOSTS_ENV}, or pass api_key=)",
                    status=error.status,
                ) from None
            raise

    def probe(self, path: str, payload: Any, *, limit: int) -> tuple[int, bytes]:
        """POST a request meant to be refused; a refusal for auth (or a 5xx) still raises."""
        reply = self.transport.request("POST", path, payload, limit=limit)
        status = reply.status
        if status in (401, 403) or (status >= 500 and status != 501) or 300 <= status < 400:
            self.check(reply, f"POST {path}")
        return status, reply.body

    def malformed(self, what: str, error: Exception) -> RemoteError:
        """The error for an answer of the wrong shape (``error`` says what is wrong)."""
        return RemoteError(
            self.scrubber.clean(
                f"the server's {what} answer has an unexpected shape ({error}); it does not "
                "behave as a llama-server or OpenAI-compatible API should",
                500,
            )
        )
