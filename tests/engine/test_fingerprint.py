"""Model fingerprints cover every byte, and are computed once per file version."""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np
import pytest
import tiny_models

from embed_nb.engine import fingerprint
from embed_nb.engine.model import file_fingerprint


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    fingerprint.forget_memo()
    return tmp_path / "cache"


def scaled_copy(source: Path, target: Path, tensor: str, factor: float) -> Path:
    """The same file with one tensor's bytes scaled in place: same size, head and tail."""
    data = bytearray(source.read_bytes())
    reader = gguf.GGUFReader(source)
    [info] = [t for t in reader.tensors if t.name == tensor]
    start = int(info.data_offset)
    values = np.frombuffer(data, dtype=np.float32, count=int(info.n_elements), offset=start)
    data[start : start + values.nbytes] = (values * factor).astype(np.float32).tobytes()
    target.write_bytes(bytes(data))
    return target


def test_a_scaled_middle_tensor_changes_the_fingerprint(own_cache: Path, tmp_path: Path) -> None:
    # Big enough that the middle tensor lies past the first and last MiB (the old scheme).
    source = tiny_models.write_tiny_bert(tmp_path / "wide.gguf", n_embd=256, n_ff=2048)
    assert source.stat().st_size > 3 << 20
    scaled = scaled_copy(source, tmp_path / "scaled.gguf", "blk.0.ffn_up.weight", 1.5)
    assert scaled.stat().st_size == source.stat().st_size
    assert file_fingerprint(scaled) != file_fingerprint(source)
    assert len(file_fingerprint(source)) == 16


def test_an_unchanged_file_is_not_read_again(
    own_cache: Path, bert_mean_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = file_fingerprint(bert_mean_path)
    reads = []
    real_hash = fingerprint._hash_file
    monkeypatch.setattr(fingerprint, "_hash_file", lambda *a: reads.append(a) or real_hash(*a))
    assert file_fingerprint(bert_mean_path) == first  # the in-process memo
    fingerprint.forget_memo()
    assert file_fingerprint(bert_mean_path) == first  # the record on disk (a new kernel)
    assert reads == []
    assert len(list((own_cache / "fingerprints").iterdir())) == 1


def test_a_rewritten_file_is_hashed_again(own_cache: Path, tmp_path: Path) -> None:
    path = tiny_models.write_tiny_bert(tmp_path / "model.gguf", seed=1)
    before = file_fingerprint(path)
    tiny_models.write_tiny_bert(tmp_path / "other.gguf", seed=2).replace(path)
    assert file_fingerprint(path) != before


def test_a_damaged_record_is_not_trusted(own_cache: Path, bert_mean_path: Path) -> None:
    good = file_fingerprint(bert_mean_path)
    fingerprint.forget_memo()
    [record] = (own_cache / "fingerprints").iterdir()
    record.write_text("0" * 10)
    assert file_fingerprint(bert_mean_path) == good


def test_a_missing_file_is_a_clear_error(own_cache: Path, tmp_path: Path) -> None:
    from embed_nb.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="does not exist"):
        file_fingerprint(tmp_path / "gone.gguf")
    assert not os.path.exists(tmp_path / "gone.gguf")
