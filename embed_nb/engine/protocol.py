"""The model interface every backend meets, and the one way a front end picks a model.

:class:`EmbeddingModel` is what the API, the registry, the magics and the widgets need of a model;
:class:`~embed_nb.engine.LocalModel` and the remote backend both have it. :func:`resolve_model`
turns what a user passes as ``model=`` (a model, a registry name, or None) into a model, so every
front end chooses a model the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..results import Embeddings, RerankResult
    from .info import ModelInfo

__all__ = ["EmbeddingModel", "ModelArg", "resolve_model"]


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the API needs of a model: :class:`~embed_nb.engine.LocalModel` and the remote
    backend both have it."""

    name: str
    fingerprint: str
    pooling: str
    n_embd: int
    max_tokens: int

    @property
    def closed(self) -> bool: ...

    @property
    def is_reranker(self) -> bool: ...

    @property
    def info(self) -> ModelInfo: ...

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: int = 2,
        truncate: bool = False,
        chunk: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> Embeddings: ...

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncate: bool = False,
        instruction: str | None = None,
    ) -> RerankResult: ...

    def tokenize(self, text: str) -> list[int]: ...

    def close(self) -> None: ...


#: What ``model=`` accepts everywhere: a loaded model, a registry name, or None (the current one).
ModelArg = str | EmbeddingModel | None


def resolve_model(model: ModelArg = None) -> EmbeddingModel:
    """The model that ``model`` names: the object itself, the registry's model of that name,
    or (None) the kernel's current model, loading the default model of
    :data:`embed_nb.settings.SETTINGS` when none is loaded.

    Raises:
        InvalidInputError: ``model`` is neither a model, a loaded model's name, nor None.
        ModelClosedError: the model was closed.
    """
    # Late: the registry sits above the engine, which must not import it at load time.
    from .. import registry

    return registry.REGISTRY.get(model)
