"""Loading a model from any source the user names: a path, hf://..., a name, or a server URL."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .engine import LocalModel

if TYPE_CHECKING:
    from .engine.remote import RemoteModel

#: Options that only a remote model takes; passing one with a local source is an error.
REMOTE_OPTIONS = frozenset(
    {
        "kind",
        "api_key",
        "model",
        "timeout",
        "connect_timeout",
        "retries",
        "backoff",
        "concurrency",
        "batch_size",
        "max_tokens",
    }
)


def is_remote_source(source: object) -> bool:
    """Whether ``source`` names a server (``http://`` or ``https://``) rather than a file."""
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


def load_model(source: str | os.PathLike[str], **options: Any) -> LocalModel | RemoteModel:
    """Load a GGUF model into this process and keep it resident, or connect to a server.

    Args:
        source: a path to a ``.gguf`` file, ``hf://owner/repo/file.gguf``, the name of the
            bundled default model, ``"all-minilm-l6-v2"``, or the URL of a server,
            ``http://host:8080`` (see :class:`~embed_nb.engine.remote.RemoteModel`).
        **options: for a local model: ``n_ctx``, ``n_gpu_layers``, ``n_threads``, ``pooling``
            (none/mean/cls/last/rank), ``flash_attn`` (auto/on/off), ``n_ubatch``,
            ``batch_tokens`` and ``name``. For a URL: ``kind`` ("llama-server" or "openai"),
            ``api_key``, ``model``, ``name``, ``timeout``, ``connect_timeout``, ``retries``,
            ``backoff``, ``concurrency``, ``batch_size``, ``max_tokens`` and ``pooling``.
    """
    if is_remote_source(source):
        from .engine.remote import RemoteModel

        return RemoteModel(str(source), **options)
    remote_only = sorted(REMOTE_OPTIONS & options.keys())
    if remote_only:
        from .errors import InvalidInputError

        raise InvalidInputError(
            f"{', '.join(remote_only)} only apply to a server URL (http://...), "
            f"not to {os.fspath(source)!r}"
        )
    from .models import resolve_model_source

    path = resolve_model_source(source)
    options.setdefault("name", _display_name(source, path))
    return LocalModel(path, **options)


def _display_name(source: str | os.PathLike[str], path: os.PathLike[str]) -> str:
    text = os.fspath(source)
    if os.path.exists(text):
        return os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return text.removeprefix("hf://")
