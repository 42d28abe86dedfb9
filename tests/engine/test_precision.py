"""precision="fast": a bf16 copy of the weight matrices on a CPU with bf16 dot products,
within cosine 0.9998 of "exact", under its own fingerprint (so its own cache keys), named in
Model.info; "exact" stays the f32 copy it always was."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest
import tiny_models

from embed_nb.engine import LocalModel, native
from embed_nb.engine.fingerprint import file_fingerprint
from embed_nb.engine.precision import WeightsPlan, describe_precision, plan_weights
from embed_nb.engine.weight_copy import (
    SOURCE_FILE_TYPE_KEY,
    TENSOR_ALIGNMENT,
    weight_copy,
)

TEXTS = ["the cat sits on the mat", "a dog eats food", "python code and data science"]
BF16 = gguf.GGMLQuantizationType.BF16

needs_bf16 = pytest.mark.skipif(
    not native.cpu_has_bf16(), reason="this CPU's llama.cpp build has no bf16 dot product"
)


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Copies go to a cache of this module's own, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBED_NB_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def f16_bert(own_cache: Path) -> Path:
    return tiny_models.write_tiny_bert(own_cache.parent / "bert-f16.gguf", outtype="f16")


# --- the copy ------------------------------------------------------------------------------


def test_the_bf16_copy_rounds_the_matrices_and_keeps_the_rest_f32(f16_bert: Path) -> None:
    made = weight_copy(f16_bert, "c" * 16, "bf16")
    assert made.path is not None and made.path.name.endswith("-bf16.v3.gguf")
    source = {t.name: t for t in gguf.GGUFReader(f16_bert).tensors}
    reader = gguf.GGUFReader(made.path)
    ftype = reader.get_field("general.file_type")
    assert ftype is not None and ftype.contents() == gguf.LlamaFileType.MOSTLY_BF16
    kept = reader.get_field(SOURCE_FILE_TYPE_KEY)
    assert kept is not None and kept.contents() == gguf.LlamaFileType.MOSTLY_F16
    assert all(t.data_offset % TENSOR_ALIGNMENT == 0 for t in reader.tensors)
    matrices = 0
    for tensor in reader.tensors:
        table = tensor.name in ("token_embd.weight", "position_embd.weight", "token_types.weight")
        if len(tensor.shape) == 1 or table:
            assert tensor.tensor_type == gguf.GGMLQuantizationType.F32, tensor.name
            continue
        assert tensor.tensor_type == BF16, tensor.name
        matrices += 1
        # Round to nearest even from the f32 value, as ggml's own conversion does.
        wide = np.asarray(source[tensor.name].data, dtype=np.float32).ravel()
        bits = wide.view(np.uint32).astype(np.uint64)
        expected = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        np.testing.assert_array_equal(np.asarray(tensor.data).view(np.uint16).ravel(), expected)
    assert matrices >= 12  # q, k, v, output, two FFN matrices per layer, two layers


def test_f32_and_bf16_copies_live_side_by_side(f16_bert: Path) -> None:
    f32 = weight_copy(f16_bert, "d" * 16, "f32").path
    bf16 = weight_copy(f16_bert, "d" * 16, "bf16").path
    assert f32 is not None and bf16 is not None and f32 != bf16
    assert f32.name.endswith("-f32.v3.gguf")  # the name f32 copies always had
    # Made once: asking again reuses each file.
    stamps = f32.stat().st_mtime_ns, bf16.stat().st_mtime_ns
    assert weight_copy(f16_bert, "d" * 16, "bf16").path == bf16
    assert weight_copy(f16_bert, "d" * 16, "f32").path == f32
    assert (f32.stat().st_mtime_ns, bf16.stat().st_mtime_ns) == stamps


def test_a_new_bf16_copy_prunes_only_old_bf16_copies(f16_bert: Path) -> None:
    old_bf16 = weight_copy(f16_bert, "1" * 16, "bf16").path
    old_f32 = weight_copy(f16_bert, "1" * 16, "f32").path
    assert old_bf16 is not None and old_f32 is not None
    week_ago = time.time() - 8 * 24 * 3600
    for path in (old_bf16, old_f32):
        os.utime(path, (week_ago, week_ago))
    assert weight_copy(f16_bert, "2" * 16, "bf16").path is not None  # the file changed
    assert not old_bf16.exists() and old_f32.exists()


def test_no_copy_of_quantised_or_already_converted_weights(f16_bert: Path, own_cache: Path) -> None:
    q8 = tiny_models.write_quantized(f16_bert, own_cache.parent / "bert-q8.gguf", "Q8_0")
    for copy in ("f32", "bf16"):
        made = weight_copy(q8, "e" * 16, copy)  # type: ignore[arg-type]
        assert made.path is None and "Q8_0 weights load as they are" in made.reason
    f32 = tiny_models.write_tiny_bert(own_cache.parent / "bert-f32.gguf", outtype="f32")
    assert weight_copy(f32, "f" * 16, "f32").reason == "the weights are f32 already"
    assert weight_copy(f32, "f" * 16, "bf16").path is not None  # fast rounds f32 weights too


# --- which weights a precision loads --------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "upcast", "copy_weights", "cpu_bf16", "copy", "because"),
    [
        ("exact", None, True, True, "f32", ""),
        ("exact", None, True, False, "f32", ""),
        ("fast", None, True, True, "bf16", ""),
        ("fast", None, True, False, "f32", "this CPU has no bf16 dot product"),
        ("exact", True, False, True, "f32", ""),  # upcast=True: the f32 copy even on a GPU
        ("exact", False, True, True, None, ""),
        ("fast", False, True, True, None, "upcast=False keeps the file's own weights"),
        ("exact", None, False, True, None, ""),  # a GPU's defaults: the file as it is
        ("fast", None, False, True, None, "the GPU runs the file's own weights"),
    ],
)
def test_the_plan_for_each_precision(
    precision: str,
    upcast: bool | None,
    copy_weights: bool,
    cpu_bf16: bool,
    copy: str | None,
    because: str,
) -> None:
    plan = plan_weights(precision, upcast, copy_weights=copy_weights, cpu_bf16=cpu_bf16)
    assert plan == WeightsPlan(copy, because)  # type: ignore[arg-type]


def test_what_a_precision_became_reads_plainly() -> None:
    assert describe_precision("fast", WeightsPlan("bf16"), "bf16", "") == "fast (bf16 copy)"
    assert describe_precision("exact", WeightsPlan("f32"), "f32", "") == "exact (f32 copy)"
    q8 = describe_precision("exact", WeightsPlan("f32"), None, "Q8_0 weights load as they are")
    assert q8 == "exact (the file as it is)"
    no_bf16 = WeightsPlan("f32", "this CPU has no bf16 dot product")
    assert (
        describe_precision("fast", no_bf16, "f32", "")
        == "fast = exact (f32 copy): this CPU has no bf16 dot product"
    )
    assert (
        describe_precision("fast", WeightsPlan("bf16"), None, "Q8_0 weights load as they are")
        == "fast = exact (the file as it is): Q8_0 weights load as they are"
    )


# --- loading ---------------------------------------------------------------------------------


@needs_bf16
def test_fast_loads_the_bf16_copy_under_its_own_fingerprint(f16_bert: Path) -> None:
    with LocalModel(f16_bert, precision="fast") as fast:
        assert fast.info.precision == "fast"
        assert fast.info.precision_used == "fast (bf16 copy)"
        assert fast.info.quantization == "F16 (rounded to BF16 for the CPU)"
        assert "precision          fast (bf16 copy)" in repr(fast.info)
        rounded = np.asarray(fast.embed(TEXTS))
    with LocalModel(f16_bert) as exact:
        assert (exact.info.precision, exact.info.precision_used) == ("exact", "exact (f32 copy)")
        wide = np.asarray(exact.embed(TEXTS))
    assert exact.fingerprint == file_fingerprint(f16_bert) + "-f32"  # as before precision
    assert fast.fingerprint == file_fingerprint(f16_bert) + "-bf16"
    assert (rounded * wide).sum(axis=1).min() > 0.999


def test_fast_without_bf16_dot_products_is_exact(
    f16_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "cpu_has_bf16", lambda: False)
    with LocalModel(f16_bert, precision="fast") as fast, LocalModel(f16_bert) as exact:
        assert fast.info.precision == "fast"
        assert fast.info.precision_used == (
            "fast = exact (f32 copy): this CPU has no bf16 dot product"
        )
        assert fast.fingerprint == exact.fingerprint  # the same vectors: one cache entry
        np.testing.assert_array_equal(np.asarray(fast.embed(TEXTS)), exact.embed(TEXTS))


def test_quantised_and_as_is_files_load_the_same_for_both_precisions(
    f16_bert: Path, own_cache: Path
) -> None:
    q8 = tiny_models.write_quantized(f16_bert, own_cache.parent / "bert-q8-load.gguf", "Q8_0")
    with LocalModel(q8, precision="fast") as fast, LocalModel(q8) as exact:
        assert fast.fingerprint == exact.fingerprint == file_fingerprint(q8)
        assert exact.info.precision_used == "exact (the file as it is)"
        if native.cpu_has_bf16():
            assert fast.info.precision_used == (
                "fast = exact (the file as it is): Q8_0 weights load as they are"
            )
    with LocalModel(f16_bert, precision="fast", upcast=False) as plain:
        assert plain.fingerprint == file_fingerprint(f16_bert)
        assert plain.info.precision_used == (
            "fast = exact (the file as it is): upcast=False keeps the file's own weights"
        )


# Bad precision values are among tests/engine/test_load_options.py's one-line errors.
# The real default model's fast-vs-exact bar is in tests/integration/test_fidelity.py, on the
# fidelity corpus.
