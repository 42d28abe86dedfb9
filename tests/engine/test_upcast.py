"""The CPU's f32 copy of f16 weights: made once, cache-line aligned, named in Model.info,
and embedding like the f16 file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import gguf
import numpy as np
import pytest
import tiny_models

import embed_nb
from embed_nb.engine.weight_copy import SOURCE_FILE_TYPE_KEY, TENSOR_ALIGNMENT, weight_copy


@pytest.fixture
def f16_bert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    return tiny_models.write_tiny_bert(tmp_path / "bert-f16.gguf", outtype="f16")


def test_the_copy_is_f32_aligned_and_remembers_its_source(f16_bert: Path) -> None:
    copy = weight_copy(f16_bert, "abc", "f32").path
    assert copy is not None and copy.exists()
    reader = gguf.GGUFReader(copy)
    assert {t.tensor_type for t in reader.tensors} == {gguf.GGMLQuantizationType.F32}
    ftype = reader.get_field("general.file_type")
    assert ftype is not None and ftype.contents() == gguf.LlamaFileType.ALL_F32
    source = reader.get_field(SOURCE_FILE_TYPE_KEY)
    assert source is not None and source.contents() == gguf.LlamaFileType.MOSTLY_F16
    # Every tensor starts on a cache line (mmap's base is page-aligned).
    assert all(t.data_offset % TENSOR_ALIGNMENT == 0 for t in reader.tensors)
    # Made once: a second call reuses the file.
    stamp = copy.stat().st_mtime_ns
    assert weight_copy(f16_bert, "abc", "f32").path == copy and copy.stat().st_mtime_ns == stamp


def test_upcast_model_embeds_like_the_f16_file(f16_bert: Path) -> None:
    texts = ["the cat sits on the mat", "a dog eats food", "python code"]
    with embed_nb.load_model(f16_bert, upcast=True) as upcast:
        assert "upcast to F32" in upcast.info.quantization
        wide = np.asarray(upcast.embed(texts))
    with embed_nb.load_model(f16_bert, upcast=False) as plain:
        assert "upcast" not in plain.info.quantization
        narrow = np.asarray(plain.embed(texts))
    cosines = np.sum(wide * narrow, axis=1)
    assert cosines.min() > 0.9999


def test_a_new_copy_removes_only_this_files_copies_unused_for_a_week(f16_bert: Path) -> None:
    first = weight_copy(f16_bert, "0" * 16, "f32").path
    assert first is not None
    older_format = first.with_name(f"{f16_bert.stem}-{'1' * 16}-f32.v2.gguf")
    recent = first.with_name(f"{f16_bert.stem}-{'3' * 16}-f32.v3.gguf")
    other_model = first.with_name(f"{f16_bert.stem}-large-{'2' * 16}-f32.v3.gguf")
    for path in (older_format, recent, other_model):
        path.write_bytes(b"x")
    week_ago = time.time() - 8 * 24 * 3600
    for path in (first, older_format, other_model):
        os.utime(path, (week_ago, week_ago))
    second = weight_copy(f16_bert, "f" * 16, "f32").path  # the file's content changed
    assert second is not None and second.exists()
    assert not first.exists() and not older_format.exists()
    # Used this week (another environment's kernel may be loading it), or another model's.
    assert recent.exists() and other_model.exists()


def test_reusing_a_copy_marks_it_used(f16_bert: Path) -> None:
    copy = weight_copy(f16_bert, "a" * 16, "f32").path
    assert copy is not None
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(copy, (week_ago, week_ago))
    mtime = copy.stat().st_mtime_ns
    assert weight_copy(f16_bert, "a" * 16, "f32").path == copy
    assert time.time() - copy.stat().st_atime < 60  # used now: safe from pruning
    assert copy.stat().st_mtime_ns == mtime  # its identity (and fingerprint memo) unchanged


def test_no_copy_when_the_cache_cannot_be_written(
    f16_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is an optimisation: a full disk or read-only cache loads the original."""
    import embed_nb.convert

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(embed_nb.convert, "write_gguf_atomically", full_disk)
    assert weight_copy(f16_bert, "b" * 16, "f32").path is None
