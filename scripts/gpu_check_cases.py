"""What scripts/gpu_check.py measures: its cases, and the random-weight reranker they use.

One case is one model, one kind of output (pooled vectors, token rows or rerank scores) and the
engine options it runs with; each half (:mod:`gpu_check_worker`) runs the cases of its device,
and :mod:`gpu_check_compare` compares the two halves case by case.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RERANKER_SEED = 11


def _cpu_contexts() -> int:
    """The number of contexts the engine gives a CPU: one per core, capped."""
    from embed_nb.engine.options import MAX_CONTEXTS, default_threads

    return min(default_threads(), MAX_CONTEXTS)


@dataclass(frozen=True)
class Case:
    """One measured configuration: a model, what is asked of it, and where it runs."""

    key: str
    label: str
    model: str  # "embed" (the default model) or "reranker"
    kind: str  # "embed" (pooled rows), "tokens" (pooling none rows) or "rerank" (scores)
    options: tuple[tuple[str, Any], ...] = ()
    gpu_only: bool = False
    #: The CPU case a GPU-only case is compared with.
    cpu_key: str = ""

    @property
    def reference(self) -> str:
        return self.cpu_key or self.key


def cases() -> list[Case]:
    contexts = _cpu_contexts()
    return [
        Case("mean", "mean pooling, all-MiniLM-L6-v2 f16, engine defaults", "embed", "embed"),
        Case(
            "none",
            "pooling none (every token row), same model",
            "embed",
            "tokens",
            (("pooling", "none"),),
        ),
        Case(
            "rerank",
            "rerank, RANDOM-weight reranker of MiniLM's shape (not a real checkpoint)",
            "reranker",
            "rerank",
        ),
        Case(
            "gpu-b256",
            "mean, GPU with batch_tokens=256 (the CPU's decode size)",
            "embed",
            "embed",
            (("batch_tokens", 256),),
            gpu_only=True,
            cpu_key="mean",
        ),
        Case(
            "gpu-b256-ctx",
            f"mean, GPU with batch_tokens=256, n_contexts={contexts} (as on the CPU)",
            "embed",
            "embed",
            (("batch_tokens", 256), ("n_contexts", contexts)),
            gpu_only=True,
            cpu_key="mean",
        ),
        Case(
            "gpu-f32",
            "mean, GPU with upcast=True (the CPU's f32 weight copy)",
            "embed",
            "embed",
            (("upcast", True),),
            gpu_only=True,
            cpu_key="mean",
        ),
    ]


def write_reranker(path: Path, vocab_dir: Path) -> Path:
    """The random-weight reranker of the checkpoint's shape and vocabulary (tests/tiny_models)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import write_tiny_reranker

    from embed_nb.convert import BertHParams, read_bert_vocab

    config = json.loads((vocab_dir / "config.json").read_text())
    return write_tiny_reranker(
        path,
        hparams=BertHParams.from_config(config),
        vocab=read_bert_vocab(vocab_dir, config),
        outtype="f16",
        seed=RERANKER_SEED,
        name="random-reranker-minilm-shape",
    )
