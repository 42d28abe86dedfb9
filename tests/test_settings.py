"""One settings object for every front end: ``%config EmbedMagics.X = v`` reaches the API, the
registry, the widgets' query boxes and the magics alike (issue 10, item 1)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import embed_nb
from embed_nb import api, cache, registry
from embed_nb.cache import get_cache
from embed_nb.engine import LocalModel
from embed_nb.errors import InvalidInputError
from embed_nb.registry import ModelRegistry
from embed_nb.settings import FIELDS, SETTINGS, Settings

DOCS = ["the cat sits on the mat", "a dog eats food", "python code", "the moon and the stars"]


@pytest.fixture
def ip(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    reg = ModelRegistry(notify=lambda message: None)  # no default_source: it follows SETTINGS
    monkeypatch.setattr(registry, "REGISTRY", reg)
    monkeypatch.setattr(cache, "_CACHES", {})
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "user-cache"))  # never the real one
    # %config keeps what it was given in shell.config (a refused value too), and a later
    # %reload_ext would apply it: put the section back as it was.
    before = dict(shell.config.get("EmbedMagics", {}))
    yield shell
    shell.config["EmbedMagics"] = type(shell.config)(before)
    magics = shell.magics_manager.registry["EmbedMagics"]
    for trait in FIELDS:
        setattr(magics, trait, magics.traits()[trait].default_value)
    reg.unload_all()


@pytest.fixture
def mean(ip: InteractiveShell, bert_mean_path: Path) -> Any:
    """A mean-pooling model loaded into the test's registry as the current one (closed with
    it; the session's shared model must stay open)."""
    return registry.REGISTRY.load(str(bert_mean_path))


def config(ip: InteractiveShell, name: str, value: object) -> None:
    result = ip.run_cell(f"%config EmbedMagics.{name} = {value!r}", store_history=False)
    assert result.success, result.error_in_exec


def run(ip: InteractiveShell, source: str) -> Any:
    result = ip.run_cell(source, store_history=False)
    assert result.success, result.error_in_exec
    return result.result


def hits(text: str, model: LocalModel, directory: Path, normalize: int = 2) -> int:
    """How many of ``text`` the cache in ``directory`` already held (0 or 1)."""
    found = api.embed([text], model=model, cache=get_cache(directory), normalize=normalize)
    return int(found.extra["cache_hits"])


def query_widget(data: Any, model: Any = None) -> Any:
    from embed_nb.widgets import ProjectionView

    return ProjectionView(data, model=model, umap=False)


# --- each setting, through %config, in the API, a widget query and a magic ----------------


def test_default_model_reaches_the_api_the_widgets_and_the_magics(
    ip: InteractiveShell, bert_cls_path: Path
) -> None:
    config(ip, "default_model", str(bert_cls_path))
    assert SETTINGS.default_model == str(bert_cls_path)
    assert registry.REGISTRY.default_source == str(bert_cls_path)
    reg = registry.REGISTRY

    assert embed_nb.embed("x").pooling == "cls"  # the API loads the configured model
    reg.unload_all()
    view = query_widget(DOCS)  # a widget given texts and no model
    assert view.search("a cat")
    assert reg.resident().model.pooling == "cls" and reg.resident().source == str(bert_cls_path)
    reg.unload_all()
    from embed_nb.widgets import RerankList

    ranked = RerankList("a cat", DOCS)
    assert ranked.result is not None and ranked.result.method == "cosine"
    assert reg.resident().source == str(bert_cls_path)
    reg.unload_all()
    assert run(ip, "%embed hello").pooling == "cls"


def test_cache_dir_reaches_the_api_the_widgets_and_the_magics(
    ip: InteractiveShell, tmp_path: Path, mean: LocalModel
) -> None:
    mine = tmp_path / "mine"
    config(ip, "cache_dir", str(mine))

    embed_nb.embed("from the api")  # plain: no cache= given
    assert hits("from the api", mean, mine) == 1
    view = query_widget(np.asarray(embed_nb.embed(DOCS)))
    view.search("from the projection query box")
    assert hits("from the projection query box", mean, mine) == 1
    from embed_nb.widgets import RerankList

    RerankList("from the rerank box", DOCS)  # an embedder: cosine, through the cache
    assert hits("from the rerank box", mean, mine) == 1
    run(ip, "%embed from the magic")
    assert hits("from the magic", mean, mine) == 1
    assert hits("never embedded", mean, mine) == 0  # the check itself is honest
    assert not (tmp_path / "user-cache" / cache.DB_NAME).exists()


def test_cache_off_reaches_the_api_the_widgets_and_the_magics(
    ip: InteractiveShell, tmp_path: Path, mean: LocalModel
) -> None:
    mine = tmp_path / "mine"
    config(ip, "cache_dir", str(mine))
    config(ip, "cache", False)

    assert "cache_hits" not in embed_nb.embed(DOCS).extra
    view = query_widget(DOCS)
    view.search("a widget query")
    assert "cache_hits" not in run(ip, "%embed hi").extra
    for text in (*DOCS, "a widget query", "hi"):
        assert hits(text, mean, mine) == 0


def test_normalize_reaches_the_api_the_widgets_and_the_magics(
    ip: InteractiveShell, tmp_path: Path, mean: LocalModel
) -> None:
    mine = tmp_path / "mine"
    config(ip, "cache_dir", str(mine))
    config(ip, "normalize", 1)

    np.testing.assert_allclose(np.abs(np.asarray(embed_nb.embed(DOCS))).sum(axis=1), 1, atol=1e-5)
    view = query_widget(DOCS)
    view.search("a widget query")  # the widget unit-normalises; the cache key shows the mode
    assert hits("a widget query", mean, mine, normalize=1) == 1
    assert hits("a widget query", mean, mine, normalize=2) == 0
    ip.user_ns["docs"] = DOCS
    vectors = np.asarray(run(ip, "%embed -v docs"))
    np.testing.assert_allclose(np.abs(vectors).sum(axis=1), 1, atol=1e-5)
    assert float(np.linalg.norm(embed_nb.embed("x", normalize=2))) == pytest.approx(1, abs=1e-5)


def test_progress_threshold_reaches_the_api_the_widgets_and_the_magics(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], mean: LocalModel
) -> None:
    config(ip, "progress_threshold", 2)
    config(ip, "cache", False)  # every text a miss, so every job has 4 texts to embed
    capsys.readouterr()

    embed_nb.embed(DOCS)
    assert "embedding" in capsys.readouterr().err
    query_widget(DOCS)
    assert "embedding" in capsys.readouterr().err
    ip.user_ns["docs"] = DOCS
    run(ip, "%embed -v docs")
    assert "embedding" in capsys.readouterr().err
    config(ip, "progress_threshold", 100)
    embed_nb.embed(DOCS)
    query_widget(DOCS)
    run(ip, "%embed -v docs")
    assert "embedding" not in capsys.readouterr().err


# --- the settings object itself -----------------------------------------------------------


def test_a_setting_changed_in_python_shows_in_config(ip: InteractiveShell) -> None:
    magics = ip.magics_manager.registry["EmbedMagics"]
    SETTINGS.normalize = 1
    assert magics.normalize == 1
    with SETTINGS.override(normalize=3, cache=False):
        assert (magics.normalize, magics.cache) == (3, False)
    assert (magics.normalize, magics.cache) == (1, True)


def test_a_refused_config_value_keeps_the_old_one_everywhere(ip: InteractiveShell) -> None:
    config(ip, "normalize", 3)
    ip.run_line_magic("config", "EmbedMagics.normalize = -7")  # logs one line
    ip.run_line_magic("config", "EmbedMagics.cache_dir = 'a\\x00b'")
    assert SETTINGS.normalize == 3 and SETTINGS.cache_dir == ""


def test_settings_check_every_value() -> None:
    settings = Settings()
    with pytest.raises(InvalidInputError, match="normalize"):
        settings.normalize = -3
    with pytest.raises(InvalidInputError, match="cache"):
        settings.cache = "yes"
    with pytest.raises(InvalidInputError, match="NUL"):
        settings.cache_dir = "a\x00b"
    with pytest.raises(InvalidInputError, match="default_model"):
        settings.default_model = None
    with pytest.raises(AttributeError, match="no setting"):
        settings.colour = "red"
    with pytest.raises(InvalidInputError):
        settings.update(normalize=1, progress_threshold="many")
    assert settings.normalize == 2  # all or nothing
    assert settings.as_dict() == {name: field.default for name, field in FIELDS.items()}


def test_a_registry_made_with_a_source_keeps_it(bert_mean_path: Path) -> None:
    with SETTINGS.override(default_model="elsewhere.gguf"):
        assert ModelRegistry(default_source=str(bert_mean_path)).default_source == str(
            bert_mean_path
        )
        assert ModelRegistry().default_source == "elsewhere.gguf"


# --- one model protocol, one way to choose a model, no import circle ----------------------


def test_the_protocol_lives_in_the_engine_and_api_reexports_it() -> None:
    from embed_nb.engine import protocol

    assert api.EmbeddingModel is protocol.EmbeddingModel


@pytest.mark.parametrize(
    "module",
    ["embed_nb.registry", "embed_nb.settings", "embed_nb.engine.protocol", "embed_nb.api"],
)
def test_each_module_imports_fresh_without_a_circle(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "light = {'embed_nb.registry', 'embed_nb.settings'}\n"
        f"if {module!r} in light:\n"
        "    assert 'embed_nb.api' not in sys.modules, 'registry/settings load the api'\n"
        "    assert 'llama_cpp' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
