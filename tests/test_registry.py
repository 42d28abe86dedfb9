"""embed_nb.registry: the kernel's resident models, on tiny GGUF models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embed_nb import InvalidInputError, ModelClosedError, ModelNotFoundError
from embed_nb.engine import LocalModel
from embed_nb.registry import ModelRegistry


@pytest.fixture
def reg(bert_mean_path: Path) -> Iterator[tuple[ModelRegistry, list[str]]]:
    messages: list[str] = []
    registry = ModelRegistry(default_source=str(bert_mean_path), notify=messages.append)
    yield registry, messages
    registry.unload_all()


def test_load_use_list_unload(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path, reranker_path: Path
) -> None:
    registry, messages = reg
    mean = registry.load(bert_mean_path, name="mean")
    assert registry.current == "mean" and registry.get() is mean and registry.get("mean") is mean
    rr = registry.load(reranker_path, name="rr", make_current=False)
    assert registry.current == "mean"
    assert [r.name for r in registry.list()] == ["mean", "rr"]
    assert registry.use("rr") is rr and registry.get() is rr
    assert registry.resident("rr").source == str(reranker_path)
    assert "pooling rank" in registry.resident("rr").summary()
    registry.unload("rr")
    assert rr.closed and registry.current == "mean" and "rr" not in registry
    registry.unload("mean")
    assert registry.current is None and len(registry) == 0
    assert messages == []


def test_loading_options_reach_the_model(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path
) -> None:
    registry, _ = reg
    model = registry.load(bert_mean_path, name="cls", pooling="cls", n_ctx=64, n_threads=1)
    assert isinstance(model, LocalModel)
    assert model.pooling == "cls" and model.info.n_ctx == 64 and model.info.n_threads == 1
    assert registry.resident("cls").options == {"pooling": "cls", "n_ctx": 64, "n_threads": 1}


def test_the_default_name_is_the_models_own(
    reg: tuple[ModelRegistry, list[str]], bert_cls_path: Path
) -> None:
    registry, _ = reg
    registry.load(bert_cls_path)
    assert registry.current == "bert-cls"


def test_loading_a_name_again_replaces_and_closes_the_old_model(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path, bert_cls_path: Path
) -> None:
    registry, _ = reg
    old = registry.load(bert_mean_path, name="m")
    new = registry.load(bert_cls_path, name="m")
    assert old.closed and not new.closed and registry.get("m") is new and len(registry) == 1


def test_with_nothing_loaded_the_default_loads_once_and_says_so(
    reg: tuple[ModelRegistry, list[str]],
) -> None:
    registry, messages = reg
    first = registry.get()
    assert registry.get() is first
    assert len(messages) == 1 and "loading the default model" in messages[0]
    assert registry.resident().auto


def test_get_takes_a_per_call_default(
    reg: tuple[ModelRegistry, list[str]], bert_cls_path: Path
) -> None:
    registry, messages = reg
    model = registry.get(default=str(bert_cls_path))
    assert model.pooling == "cls" and str(bert_cls_path) in messages[0]


def test_a_model_object_passes_through(reg: tuple[ModelRegistry, list[str]]) -> None:
    registry, _ = reg

    class Duck:  # anything shaped like a model: the API checks what it uses
        fingerprint = "f"

        def embed(self, texts: object) -> None: ...

    sentinel = Duck()
    assert registry.get(sentinel) is sentinel  # type: ignore[arg-type]


@pytest.mark.parametrize("thing", [123, b"model.gguf", object(), ["a"]])
def test_what_is_not_a_model_is_a_clear_error(
    reg: tuple[ModelRegistry, list[str]], thing: object
) -> None:
    registry, _ = reg
    with pytest.raises(InvalidInputError, match="model must be"):
        registry.get(thing)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (None, "not NoneType"),
        (123, "not int"),
        (b"x.gguf", "not bytes"),
        ("", "empty"),
        ("a\x00b.gguf", "NUL"),
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:99999", "not a valid URL"),
    ],
)
def test_what_cannot_name_a_model_is_refused_before_loading(
    reg: tuple[ModelRegistry, list[str]], source: object, match: str
) -> None:
    registry, _ = reg
    with pytest.raises(InvalidInputError, match=match):
        registry.load(source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://user:sk-Secret123Key@[::1",
        "http://user:sk-Secret123Key@127.0.0.1:99999",
        "http://[::1?api_key=sk-Secret123Key",
        "https://127.0.0.1:8080/v1?key=sk-Secret123Key#sk-Secret123Key",
    ],
)
def test_a_bad_url_is_refused_without_showing_its_key(
    reg: tuple[ModelRegistry, list[str]], url: str
) -> None:
    registry, _ = reg
    with pytest.raises(InvalidInputError) as caught:
        registry.load(url)
    message = str(caught.value)
    assert "\n" not in message and "secret123key" not in message.lower()


def test_add_keeps_a_model_loaded_elsewhere(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path
) -> None:
    registry, _ = reg
    model = LocalModel(bert_mean_path, name="mine")
    registry.add(model)
    assert registry.get("mine") is model and registry.current == "mine"


def test_errors_name_the_fix(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path, tmp_path: Path
) -> None:
    registry, _ = reg
    with pytest.raises(InvalidInputError, match="no model named 'nope' is loaded"):
        registry.get("nope")
    with pytest.raises(InvalidInputError, match="no model named"):
        registry.use("nope")
    with pytest.raises(InvalidInputError, match="no model named"):
        registry.unload("nope")
    with pytest.raises(InvalidInputError, match="no model is loaded"):
        registry.resident()
    with pytest.raises(ModelNotFoundError):
        registry.load(tmp_path / "missing.gguf")
    with pytest.raises(InvalidInputError, match="non-empty"):
        registry.load(bert_mean_path, name="  ")
    model = registry.load(bert_mean_path, name="m")
    model.close()
    with pytest.raises(ModelClosedError, match="load it again"):
        registry.get()


def test_with_pooling_loads_a_variant_once(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path
) -> None:
    registry, _ = reg
    mean = registry.load(bert_mean_path, name="m", n_ctx=64)
    tokens = registry.with_pooling(mean, "none")
    assert tokens.pooling == "none" and tokens.info.n_ctx == 64
    assert registry.with_pooling(mean, "none") is tokens
    assert registry.with_pooling(mean, "mean") is mean
    assert registry.current == "m" and "m:none" in registry
    outsider = LocalModel(bert_mean_path)
    try:
        with pytest.raises(InvalidInputError, match="--pooling none"):
            registry.with_pooling(outsider, "none")
    finally:
        outsider.close()


def test_repr_marks_the_current_model(
    reg: tuple[ModelRegistry, list[str]], bert_mean_path: Path
) -> None:
    registry, _ = reg
    assert "no models" in repr(registry)
    registry.load(bert_mean_path, name="m")
    assert repr(registry).startswith("* m")
