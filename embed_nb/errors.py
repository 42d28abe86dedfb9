"""The exceptions a user can cause, in one place.

Every error raised on purpose by embed_nb is an :class:`EmbedNbError`, so a notebook
can catch the whole family, and the magics can show it as one line instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "EmbedNbError",
    "FileAccessError",
    "InputTooLongError",
    "InvalidInputError",
    "ModelClosedError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotARerankerError",
    "OfflineError",
    "RemoteError",
]


class EmbedNbError(Exception):
    """Base class: something the user can fix. The message says how."""


class InvalidInputError(EmbedNbError, ValueError):
    """Texts, options or documents of the wrong type or value."""


class InputTooLongError(InvalidInputError):
    """An input has more tokens than the context allows, and neither truncate nor chunk was set."""

    def __init__(self, index: int, n_tokens: int, limit: int) -> None:
        self.index, self.n_tokens, self.limit = index, n_tokens, limit
        super().__init__(
            f"input {index} has {n_tokens} tokens, more than the limit of {limit}; "
            "pass truncate=True to cut it or chunk=True to embed it in windows"
        )

    def __reduce__(self) -> tuple[type, tuple[int, int, int]]:  # raised on a Dask worker
        return type(self), (self.index, self.n_tokens, self.limit)


class ModelNotFoundError(EmbedNbError, FileNotFoundError):
    """The model source names no file, repository or known model."""


class ModelLoadError(EmbedNbError):
    """llama.cpp could not load or set up the model."""


class ModelClosedError(EmbedNbError):
    """The model was closed with ``close()``; load it again."""


class NotARerankerError(EmbedNbError):
    """``rerank`` was called on a model that does not use RANK pooling."""


class OfflineError(EmbedNbError):
    """A download was needed but the network (or the hub) cannot be reached."""


class RemoteError(EmbedNbError):
    """A remote server answered with an error or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:  # raised on a Dask worker
        return type(self), (str(self), self.status)


class FileAccessError(EmbedNbError, OSError):
    """A file could not be read or written (missing directory, no permission, full disk...).

    It is also an :class:`OSError`, so code that already catches those keeps working.
    """


class ClusterError(EmbedNbError):
    """A Dask cluster could not run a job: no scheduler answers, a worker's model differs
    from the kernel's, or an input crashed the worker processes."""
