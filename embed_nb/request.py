"""One embedding request: the options that decide a vector, as one frozen value.

An :class:`EmbedRequest` flows from the API (:func:`embed_nb.embed` and the jobs built on it)
through the cache key (:func:`embed_nb.cache.cache_key`) to the model (``model.embed(texts,
**request.options())``) and into the result (:attr:`Embeddings.request
<embed_nb.results.Embeddings.request>`).

Adding an option later (a prompt, an output dimension) is one field here with a default. The
cache key names a field beyond the first three only when it differs from its default, so keys
made before the field existed stay the same and existing caches keep hitting.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import InvalidInputError

__all__ = ["EmbedRequest", "checked_request"]


@dataclass(frozen=True)
class EmbedRequest:
    """How to embed texts.

    Attributes:
        normalize: llama.cpp's ``embd_normalize``: -1 none, 0 max-abs, 1 L1, 2 L2, p > 2.
        truncate: cut texts longer than the model's context instead of failing.
        chunk: embed long texts in overlapping windows and average them.
        prompt: text put before each text (see :mod:`embed_nb.prompts`); the job does it.
        suffix: text put after each text (a Qwen3 EOS the file does not add); the job does it.
        dim: keep the first ``dim`` components, normalised again (see :mod:`embed_nb.dims`).
    """

    normalize: int = 2
    truncate: bool = False
    chunk: bool = False
    prompt: str = ""
    suffix: str = ""
    dim: int | None = None

    def __post_init__(self) -> None:
        if self.truncate and self.chunk:
            raise InvalidInputError("choose one of truncate and chunk, not both")

    @property
    def mode(self) -> str:
        """``"truncate"``, ``"chunk"`` or ``"strict"`` (long texts are an error)."""
        return "truncate" if self.truncate else "chunk" if self.chunk else "strict"

    def for_pooling(self, pooling: str) -> EmbedRequest:
        """This request as a model with ``pooling`` runs it: normalisation checked, and -1
        (none) for per-token vectors, which llama.cpp never normalises."""
        from .engine.normalize import check_normalize

        normalize = -1 if pooling == "none" else check_normalize(self.normalize)
        return replace(self, normalize=normalize)

    def options(self) -> dict[str, Any]:
        """The request as ``model.embed`` keyword arguments (the models' convenient form):
        the prompt, suffix and dim are the job's business, never the model's."""
        return {name: getattr(self, name) for name in ("normalize", "truncate", "chunk")}

    def key_part(self, max_tokens: int | None) -> str:
        """What the request adds to a cache key. ``max_tokens`` (the model's context) counts
        only when a long text is cut or windowed: it decides where, and nothing else."""
        limit = str(max_tokens) if (self.truncate or self.chunk) else ""
        part = f"{self.normalize}\x1f{self.mode}\x1f{limit}"
        for extra in fields(self)[3:]:  # later options: only when set, so old keys hold
            value = getattr(self, extra.name)
            if value != extra.default:
                part += f"\x1f{extra.name}={value!r}"
        return part


def checked_request(
    request: EmbedRequest | None, *, normalize: int = 2, truncate: bool = False, chunk: bool = False
) -> EmbedRequest:
    """The request a model's ``embed`` runs: ``request``, or one made of the keyword form,
    with ``normalize`` checked (a request and keywords that disagree are refused)."""
    if request is None:
        request = EmbedRequest(normalize=normalize, truncate=truncate, chunk=chunk)
    elif (normalize, truncate, chunk) != (2, False, False):
        raise InvalidInputError("pass request= or normalize/truncate/chunk, not both")
    from .engine.normalize import check_normalize

    return replace(request, normalize=check_normalize(request.normalize))
