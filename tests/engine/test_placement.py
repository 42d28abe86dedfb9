"""An honest device report: Model.info names the backend and devices a model actually runs on
and the layers llama.cpp actually offloaded; GPU layers asked of a CPU-only build warn once.

This machine has a CPU-only llama.cpp build. Tests marked "mock" below pretend otherwise (a
fake GPU device, a GPU build's log line): they check our side of what cannot run here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from embed_nb.engine import LocalModel, native, placement
from embed_nb.engine.placement import CpuOnlyBuildWarning, Placement

cpu_only = pytest.mark.skipif(
    native.supports_gpu_offload(), reason="this llama.cpp build can offload to a GPU"
)


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: the once-per-process warning not yet given."""
    monkeypatch.setattr(placement, "_warned", False)


def _cpu_only_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CpuOnlyBuildWarning)]


@cpu_only
def test_info_on_a_cpu_build_says_cpu_and_no_layers(bert_mean: LocalModel) -> None:
    info = bert_mean.info
    cpus = [d.description for d in native.devices() if d.backend == "CPU"]
    assert (info.backend, info.n_gpu_layers, info.devices) == ("CPU", 0, cpus[:1])
    assert info.devices and info.devices[0]  # the CPU's description, e.g. "AMD EPYC"
    assert f"backend            CPU on {info.devices[0]}, 0 GPU layers" in repr(info)


@cpu_only
@pytest.mark.usefixtures("fresh_warning")
def test_gpu_layers_on_a_cpu_build_warn_once_in_one_line(bert_mean_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with LocalModel(bert_mean_path, n_gpu_layers=99) as first:
            assert (first.info.backend, first.info.n_gpu_layers) == ("CPU", 0)
        with LocalModel(bert_mean_path, n_gpu_layers=-1) as second:
            assert second.embed("still runs").shape == (second.n_embd,)
    messages = _cpu_only_warnings(caught)
    assert len(messages) == 1, messages
    (message,) = messages
    assert "\n" not in message and "the model runs on the CPU" in message
    assert "make setup GPU=cuda" in message
    assert 'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall' in message


@cpu_only
@pytest.mark.usefixtures("fresh_warning")
@pytest.mark.parametrize("n_gpu_layers", [None, 0])
def test_no_warning_without_gpu_layers(bert_mean_path: Path, n_gpu_layers: int | None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LocalModel(bert_mean_path, n_gpu_layers=n_gpu_layers).close()
    assert _cpu_only_warnings(caught) == []
    assert placement._warned is False


def test_the_cpu_device_and_its_bf16_support_are_read_from_llama_cpp() -> None:
    cpus = [d for d in native.devices() if d.backend == "CPU"]
    assert len(cpus) == 1 and not cpus[0].gpu
    info = native.lib().llama_print_system_info().decode()
    assert native.cpu_has_bf16() == ("AVX512_BF16 = 1" in info or "AMX_BF16 = 1" in info)


# --- mocks of what cannot run here ----------------------------------------------------------

FAKE_GPU = native.Device(backend="CUDA", description="NVIDIA H200", gpu=True)
FAKE_CPU = native.Device(backend="CPU", description="AMD EPYC", gpu=False)


def test_mock_a_gpu_load_reports_the_logged_layers_and_the_gpu(
    bert_mean: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mock: a CUDA device in ggml's registry, as on a GPU machine."""
    monkeypatch.setattr(native, "devices", lambda: (FAKE_CPU, FAKE_GPU))
    model = bert_mean._native.model
    assert placement.placement(model, -1, 3) == Placement("CUDA", ["NVIDIA H200"], 3)
    # The tiny BERT has 2 layers plus the output layer: what llama.cpp counts without a log.
    assert placement.placement(model, -1, None).n_gpu_layers == 3
    assert placement.placement(model, 2, None).n_gpu_layers == 2
    assert placement.placement(model, 10**6, None).n_gpu_layers == 3
    assert placement.placement(model, 0, None) == Placement("CPU", ["AMD EPYC"], 0)
    assert placement.placement(model, 2, 0) == Placement("CPU", ["AMD EPYC"], 0)


def test_mock_llama_cpp_s_offload_log_line_is_counted() -> None:
    """Mock: the line a GPU build's llama.cpp logs while loading, sent to our log callback."""
    native.lib()
    native.take_offloaded_layers()
    native._log_callback(2, b"load_tensors: offloaded 7/7 layers to GPU\n", None)
    assert native.take_offloaded_layers() == 7
    assert native.take_offloaded_layers() is None  # taken: the next load starts afresh
    native._log_callback(2, b"load_tensors: offloading 6 repeating layers to GPU\n", None)
    assert native.take_offloaded_layers() is None
