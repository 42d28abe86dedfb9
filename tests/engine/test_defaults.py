"""The engine's defaults for unset options: one table for a CPU, one for a GPU (llama-server's
behaviour), chosen by whether any layer is offloaded; explicit options always win.

No GPU is lent here. The tests marked "mock" make this CPU-only build say it can offload, so a
load takes the GPU table's path; llama.cpp then finds no GPU and runs on the CPU, which
Model.info reports honestly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from embed_nb.engine import LocalModel, native
from embed_nb.engine.defaults import CPU_DEFAULTS, GPU_DEFAULTS, engine_defaults
from embed_nb.engine.options import MAX_CONTEXTS


def test_the_cpu_and_gpu_tables() -> None:
    assert engine_defaults(offloaded=False) is CPU_DEFAULTS
    assert engine_defaults(offloaded=True) is GPU_DEFAULTS
    assert (CPU_DEFAULTS.batch_tokens, CPU_DEFAULTS.max_contexts) == (256, MAX_CONTEXTS)
    assert CPU_DEFAULTS.copy_weights and CPU_DEFAULTS.decoder_flash_attn == "off"
    # llama-server: one context, 2048-token batches, the file's weights, flash attention auto.
    assert (GPU_DEFAULTS.batch_tokens, GPU_DEFAULTS.max_contexts) == (2048, 1)
    assert not GPU_DEFAULTS.copy_weights and GPU_DEFAULTS.decoder_flash_attn == "auto"


def test_a_cpu_load_takes_the_cpu_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tiny_models

    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    f16 = tiny_models.write_tiny_bert(tmp_path / "bert-f16.gguf", outtype="f16", n_ctx=512)
    with LocalModel(f16, n_threads=2, n_gpu_layers=0) as model:
        assert model.batch_tokens == CPU_DEFAULTS.batch_tokens
        assert model.info.n_contexts == 2
        assert model.info.precision_used == "exact (f32 copy)"


@pytest.fixture
def mock_gpu_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Mock: llama.cpp says it can offload to a GPU (it cannot here)."""
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "supports_gpu_offload", lambda: True)


@pytest.mark.usefixtures("mock_gpu_build")
def test_mock_a_gpu_load_takes_the_gpu_table(tmp_path: Path) -> None:
    import tiny_models

    f16 = tiny_models.write_tiny_bert(tmp_path / "bert-f16.gguf", outtype="f16", n_ctx=512)
    with LocalModel(f16, n_threads=2, precision="fast") as model:
        assert model.batch_tokens == min(GPU_DEFAULTS.batch_tokens, model.info.n_ubatch) == 512
        assert model.info.n_contexts == 1
        assert model.info.precision_used == (
            "fast = exact (the file as it is): the GPU runs the file's own weights"
        )
        assert model.info.quantization == "F16"  # no weight copy
        # What really happened on this CPU-only build: nothing was offloaded.
        assert (model.info.backend, model.info.n_gpu_layers) == ("CPU", 0)


@pytest.mark.usefixtures("mock_gpu_build")
def test_mock_explicit_options_win_over_the_gpu_table(tmp_path: Path) -> None:
    import tiny_models

    f16 = tiny_models.write_tiny_bert(tmp_path / "bert-f16.gguf", outtype="f16", n_ctx=512)
    with LocalModel(f16, n_threads=2, n_contexts=2, batch_tokens=64, upcast=True) as model:
        assert (model.batch_tokens, model.info.n_contexts) == (64, 2)
        assert model.info.precision_used == "exact (f32 copy)"


def test_a_decoder_s_auto_flash_attention_is_off_on_a_cpu(llama_last_path: Path) -> None:
    with LocalModel(llama_last_path, n_threads=1) as model:
        assert model.info.flash_attn == "off"


@pytest.mark.usefixtures("mock_gpu_build")
def test_mock_a_decoder_s_auto_flash_attention_is_left_to_llama_cpp_on_a_gpu(
    llama_last_path: Path,
) -> None:
    with LocalModel(llama_last_path, n_threads=1) as model:
        assert model.info.flash_attn == "auto"
