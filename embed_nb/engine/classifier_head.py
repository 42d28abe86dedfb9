"""A RANK-pooled model must have a classifier head, or its "scores" mean nothing.

llama.cpp's RANK pooling (``build_pooling`` in src/llama-graph.cpp, 0.3.36's vendored tree)
takes the CLS (or, for decoders, the last) hidden state, applies ``cls`` (a BERT pooler) and
``cls.output`` (the classifier) when the file has them, and returns the first ``n_cls_out``
values. Both tensors are optional at load (``TENSOR_NOT_REQUIRED``), so a file without either
loads, and its score is just the first component of a hidden state: a number that looks like
a relevance score but is not one. Refusing it at load makes that loud.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelLoadError
from .gguf_check import check_gguf

__all__ = ["HEAD_TENSORS", "check_classifier_head"]

#: Either makes a head: ``cls.output`` (the classifier; Qwen3-Reranker's yes/no rows, a
#: cross-encoder's score row) or ``cls`` (a pooler-only head, as some BERT rerankers have).
HEAD_TENSORS = ("cls.output.weight", "cls.weight")
_LLAMA_POOLING_TYPE_RANK = 4


def check_classifier_head(path: Path) -> None:
    """Raise :class:`ModelLoadError` when the GGUF at ``path`` has no classifier head.

    Call it for a model that runs with RANK pooling, whether the file asks for it or the load
    did (the advice differs).
    """
    summary = check_gguf(path)
    if any(tensor.name in HEAD_TENSORS for tensor in summary.tensors):
        return
    arch = summary.metadata.get("general.architecture")
    pooling = summary.metadata.get(f"{arch.value if arch else ''}.pooling_type")
    file_pooling_is_rank = pooling is not None and pooling.value == _LLAMA_POOLING_TYPE_RANK
    fix = (
        "convert the reranker again with its classification head (llama.cpp's "
        "convert_hf_to_gguf.py, or embed_nb.convert for a BERT cross-encoder)"
        if file_pooling_is_rank
        else "load it with pooling='mean' or 'cls' as an embedding model, or load a reranker"
    )
    raise ModelLoadError(
        f"{os.fspath(path)} is pooled 'rank' but has no classifier head (no "
        f"{' or '.join(HEAD_TENSORS)} tensor), so its scores would mean nothing; {fix}"
    )
