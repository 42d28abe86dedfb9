"""Bad inputs that a REAL llama-server rejects (from its tools/server/tests/unit/test_embedding.py
and test_rerank.py): the local engine must refuse them too, and the remote backend must either
refuse them the same way before sending or surface the server's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_servers import LlamaServer

from embed_nb import (
    EmbedNbError,
    InputTooLongError,
    InvalidInputError,
    NotARerankerError,
    RemoteError,
)
from embed_nb.engine import LocalModel
from embed_nb.engine.remote import RemoteModel

Factory = Callable[..., LlamaServer]

# The server's invalid embedding inputs that are objects rather than lists of texts.
INVALID_MAPPINGS: list[Any] = [
    {"content": "string"},
    {"content": [{"type": "unknown"}]},
    {"content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
]


def test_an_empty_input_list_is_refused_everywhere(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path)
    status, body = server.post("/v1/embeddings", {"input": []})
    assert status == 400 and "error" in body
    with LocalModel(bert_mean_path) as local, pytest.raises(InvalidInputError):
        local.embed([])
    with RemoteModel(server.url) as remote, pytest.raises(InvalidInputError):
        remote.embed([])


@pytest.mark.parametrize("bad", INVALID_MAPPINGS, ids=["string", "unknown", "image"])
def test_a_mapping_is_refused_by_the_remote_backend(
    bad: Any, bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path)
    status, body = server.post("/v1/embeddings", {"input": bad})
    assert status != 200 and "error" in body  # the image one is a 500 in this llama.cpp
    with RemoteModel(server.url) as remote, pytest.raises(InvalidInputError):
        remote.embed(bad)


@pytest.mark.parametrize("bad", INVALID_MAPPINGS, ids=["string", "unknown", "image"])
def test_a_mapping_is_refused_by_the_local_engine(bad: Any, bert_mean_path: Path) -> None:
    with LocalModel(bert_mean_path) as local, pytest.raises(InvalidInputError):
        local.embed(bad)


def test_a_too_long_input_is_refused_with_the_servers_message(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path)
    text = "This is a test " * 512
    status, body = server.post("/v1/embeddings", {"input": text})
    assert status != 200 and "too large" in body["error"]["message"]
    with LocalModel(bert_mean_path) as local, pytest.raises(InputTooLongError):
        local.embed(text)
    with RemoteModel(server.url, retries=0) as remote, pytest.raises(RemoteError) as caught:
        remote.embed(["fine", text])
    assert "too large" in str(caught.value) and caught.value.status == status


def test_pooling_none_is_not_oai_compatible(bert_none_path: Path, server_factory: Factory) -> None:
    server = server_factory(bert_none_path)
    status, body = server.post("/v1/embeddings", {"input": "hello hello hello"})
    assert status == 400
    message = "Pooling type 'none' is not OAI compatible"
    assert message in body["error"]["message"]
    # The llama-server kind goes to /embeddings instead; the openai kind must say why it can't.
    with RemoteModel(server.url) as remote:
        assert remote.embed("hello hello hello").token_vectors is not None
    with RemoteModel(server.url, kind="openai") as openai, pytest.raises(RemoteError) as caught:
        openai.embed("hello hello hello")
    assert message in str(caught.value) and caught.value.status == 400


@pytest.mark.parametrize("documents", [[], None, 123, [1, 2, 3]])
def test_invalid_rerank_documents_are_refused_everywhere(
    documents: Any, reranker_path: Path, server_factory: Factory
) -> None:
    server = server_factory(reranker_path, mode="reranking")
    status, body = server.post("/rerank", {"query": "Machine learning is", "documents": documents})
    assert status == 400 and "error" in body
    with LocalModel(reranker_path) as local, pytest.raises(InvalidInputError):
        local.rerank("Machine learning is", documents)
    with RemoteModel(server.url) as remote, pytest.raises(InvalidInputError):
        remote.rerank("Machine learning is", documents)


def test_a_query_that_is_not_a_string_is_refused_everywhere(
    reranker_path: Path, server_factory: Factory
) -> None:
    server = server_factory(reranker_path, mode="reranking")
    status, body = server.post("/rerank", {"query": 5, "documents": ["a"]})
    assert status == 400 and '"query" must be a string' in body["error"]["message"]
    with LocalModel(reranker_path) as local, pytest.raises(InvalidInputError):
        local.rerank(5, ["a"])  # type: ignore[arg-type]
    with RemoteModel(server.url) as remote, pytest.raises(InvalidInputError):
        remote.rerank(5, ["a"])  # type: ignore[arg-type]


def test_rerank_on_an_embedding_server_is_refused(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path)
    status, body = server.post("/v1/rerank", {"query": "q", "documents": ["d"]})
    assert status == 501 and "does not support reranking" in body["error"]["message"]
    with LocalModel(bert_mean_path) as local, pytest.raises(NotARerankerError):
        local.rerank("q", ["d"])
    with RemoteModel(server.url) as remote, pytest.raises(NotARerankerError):
        remote.rerank("q", ["d"])


def test_a_server_without_embeddings_is_refused_with_its_message(
    bert_mean_path: Path, server_factory: Factory
) -> None:
    server = server_factory(bert_mean_path, mode=None)
    with pytest.raises(RemoteError, match="does not support embeddings"):
        RemoteModel(server.url)


def test_a_wrong_api_key_is_the_servers_401(bert_mean_path: Path, server_factory: Factory) -> None:
    server = server_factory(bert_mean_path, extra=("--api-key", "right-key"))
    with pytest.raises(RemoteError, match="Invalid API Key") as caught:
        RemoteModel(server.url, api_key="wrong-key")
    assert caught.value.status == 401 and "wrong-key" not in str(caught.value)
    with RemoteModel(server.url, api_key="right-key") as remote:
        assert len(remote.embed(["a", "b"])) == 2
    assert isinstance(caught.value, EmbedNbError)
