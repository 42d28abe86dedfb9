"""Loading a model from any source the user names: a path, hf://..., the default model name."""

from __future__ import annotations

import os
from typing import Any

from .engine import LocalModel


def load_model(source: str | os.PathLike[str], **options: Any) -> LocalModel:
    """Load a GGUF model into this process and keep it resident.

    Args:
        source: a path to a ``.gguf`` file, ``hf://owner/repo/file.gguf``, or the name of the
            bundled default model, ``"all-minilm-l6-v2"``.
        **options: ``n_ctx``, ``n_gpu_layers``, ``n_threads``, ``pooling``
            (none/mean/cls/last/rank), ``flash_attn`` (auto/on/off), ``n_ubatch``,
            ``batch_tokens`` and ``name``.
    """
    from .models import resolve_model_source

    path = resolve_model_source(source)
    options.setdefault("name", _display_name(source, path))
    return LocalModel(path, **options)


def _display_name(source: str | os.PathLike[str], path: os.PathLike[str]) -> str:
    text = os.fspath(source)
    if os.path.exists(text):
        return os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return text.removeprefix("hf://")
