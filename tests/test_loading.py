"""load_model: what it accepts as a source and as options, refused in one line otherwise."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import embed_nb
from embed_nb.engine import LocalModel
from embed_nb.engine.remote import RemoteModel
from embed_nb.errors import InvalidInputError
from embed_nb.loading import local_options, remote_options


def _one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("source", [None, 123, b"model.gguf", ["a.gguf"], 1.5, object()])
def test_a_source_that_is_not_a_path_is_refused(source: Any) -> None:
    with pytest.raises(InvalidInputError, match="model source must be a str") as caught:
        embed_nb.load_model(source)
    assert type(source).__name__ in _one_line(caught)


def test_a_source_with_nul_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="NUL"):
        embed_nb.load_model("model\0.gguf")


def test_the_options_are_read_from_the_model_signatures() -> None:
    local = set(inspect.signature(LocalModel).parameters) - {"path"}
    remote = set(inspect.signature(RemoteModel).parameters) - {"url"}
    assert local_options() == local and remote_options() == remote
    assert {"n_ctx", "pooling", "name"} <= local and {"api_key", "timeout"} <= remote


def test_a_typo_names_the_option_it_meant_and_lists_the_valid_ones(
    bert_mean_path: Path,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        embed_nb.load_model(bert_mean_path, n_ctxx=64)
    message = _one_line(caught)
    assert "unknown option n_ctxx (did you mean n_ctx?)" in message
    assert "n_threads" in message and "api_key" not in message


def test_a_server_option_with_a_file_is_refused(bert_mean_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="api_key only applies to a server URL") as caught:
        embed_nb.load_model(bert_mean_path, api_key="secret")
    assert "secret" not in _one_line(caught)


def test_a_local_option_with_a_url_is_refused_before_connecting() -> None:
    # Port 9 (discard) on loopback: nothing is contacted, the options are checked first.
    with pytest.raises(InvalidInputError, match="n_ctx only applies to a local model") as caught:
        embed_nb.load_model("http://127.0.0.1:9", n_ctx=512)
    assert "timeout" in _one_line(caught)


def test_an_unknown_option_with_a_url_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown option timout"):
        embed_nb.load_model("http://127.0.0.1:9", timout=3)


def test_good_options_still_load(bert_mean_path: Path) -> None:
    with embed_nb.load_model(bert_mean_path, n_ctx=64, name="tiny") as model:
        assert model.name == "tiny"
