"""scripts/gpu_check.py's verdicts: GPU-vs-CPU fidelity, the table's rows, the notes and the exit
status, from what the two halves (:mod:`gpu_check_worker`) left in their folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gpu_check_cases import cases

#: Fidelity thresholds: min cosine GPU vs CPU of pooled vectors and of token rows.
COSINE_MIN = 0.9999
#: Rerank: the largest score change allowed, as a fraction of the CPU scores' std (docstring).
RERANK_REL_TOL = 0.01
NOT_RUN = "not run: no GPU backend"


@dataclass(frozen=True)
class Fidelity:
    """The GPU-vs-CPU comparison of one check."""

    passed: bool
    shown: str  # the "min cosine" column
    why: str = ""  # what failed, for the "pass" column


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b`` (float64; NaN counts as -inf).

    Two zero rows agree (cosine 1); a zero row against a non-zero one does not (0).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    a = a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)
    b = b.reshape(len(b), -1) if b.ndim > 1 else b.reshape(1, -1)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (a * b).sum(axis=1) / (na * nb)
    cos[(na == 0) & (nb == 0)] = 1.0
    cos[((na == 0) ^ (nb == 0))] = 0.0
    return np.where(np.isnan(cos), -np.inf, cos)


def compare_vectors(cpu: np.ndarray, gpu: np.ndarray, threshold: float = COSINE_MIN) -> Fidelity:
    """Pass when every row of ``gpu`` has cosine >= ``threshold`` with the same row of ``cpu``."""
    if np.shape(cpu) != np.shape(gpu):
        return Fidelity(False, "–", f"shapes differ: CPU {np.shape(cpu)}, GPU {np.shape(gpu)}")
    cos = row_cosines(cpu, gpu)
    worst = float(cos.min()) if cos.size else 1.0
    passed = worst >= threshold
    why = "" if passed else f"min cosine {worst:.6f} < {threshold}"
    return Fidelity(passed, f"{worst:.6f}", why)


def compare_scores(cpu: np.ndarray, gpu: np.ndarray, rel_tol: float = RERANK_REL_TOL) -> Fidelity:
    """Pass when no score differs by more than ``rel_tol`` times the CPU scores' std."""
    cpu = np.asarray(cpu, dtype=np.float64).ravel()
    gpu = np.asarray(gpu, dtype=np.float64).ravel()
    if cpu.shape != gpu.shape:
        return Fidelity(False, "–", f"{cpu.size} CPU scores, {gpu.size} GPU scores")
    spread = float(np.std(cpu)) if cpu.size else 0.0
    # Scores that do not vary at all: hold them to a fraction of their size instead.
    scale = spread if spread > 0 else max(float(np.abs(cpu).max(initial=0.0)), 1e-6)
    tol = rel_tol * scale
    diff = np.abs(cpu - gpu)
    worst = float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))
    passed = worst <= tol
    shown = f"max abs score diff {worst:.2e} (tol {tol:.2e})"
    why = "" if passed else f"a score moved {worst:.2e} > {tol:.2e}"
    return Fidelity(passed, shown, why)


def sanity(kind: str, array: np.ndarray, n_texts: int, counts: np.ndarray | None) -> str:
    """What is wrong with one device's output of a check, or "" when it looks right."""
    if not np.all(np.isfinite(array)):
        return "non-finite values"
    if kind == "embed":
        if array.ndim != 2 or len(array) != n_texts:
            return f"shape {array.shape}, expected ({n_texts}, d)"
        norms = np.linalg.norm(array, axis=1)
        if np.abs(norms - 1).max(initial=0.0) > 1e-3:
            return "rows are not unit length"
    elif kind == "tokens":
        if counts is None or len(counts) != n_texts or int(counts.sum()) != len(array):
            return "token rows do not add up to the texts' token counts"
    elif kind == "rerank":
        if array.shape != (n_texts,):
            return f"{array.size} scores for {n_texts} documents"
        if n_texts > 1 and float(np.std(array)) == 0.0:
            return "every document got the same score"
    return ""


@dataclass
class Row:
    label: str
    cpu_tps: float | None
    gpu_tps: float | None
    gpu_note: str  # shown instead of GPU figures when the GPU half did not run
    fidelity: Fidelity | None
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and (self.fidelity is None or self.fidelity.passed)

    def cells(self) -> list[str]:
        cpu = f"{self.cpu_tps:,.1f}" if self.cpu_tps is not None else "–"
        if self.gpu_note:
            gpu, ratio = self.gpu_note, "–"
        else:
            gpu = f"{self.gpu_tps:,.1f}" if self.gpu_tps is not None else "–"
            ok = self.cpu_tps and self.gpu_tps is not None
            ratio = f"{self.gpu_tps / self.cpu_tps:.2f}x" if ok else "–"  # type: ignore[operator]
        shown = self.fidelity.shown if self.fidelity is not None else "–"
        if self.errors:
            verdict = "FAIL: " + "; ".join(self.errors)
        elif self.fidelity is None:
            verdict = "CPU ok; GPU not run" if self.gpu_note else "ok"
        elif self.fidelity.passed:
            verdict = "yes"
        else:
            verdict = f"FAIL: {self.fidelity.why}"
        return [self.label, cpu, gpu, ratio, shown, verdict]


def render_table(rows: Sequence[Row]) -> str:
    head = ["check", "CPU texts/s", "GPU texts/s", "GPU÷CPU", "min cosine", "pass"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def exit_status(rows: Sequence[Row], *, gpu_ran: bool, dry_run: bool) -> int:
    """1 on any failed check, 3 when the GPU half did not run outside ``--dry-run``, else 0."""
    if any(not row.passed for row in rows):
        return 1
    if not gpu_ran and not dry_run:
        return 3
    return 0


# --------------------------------------------------------------------------------------------
# Putting the table together


def _load(out: Path, device: str, key: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    path = out / f"{device}-{key}.npy"
    counts = out / f"{device}-{key}-counts.npy"
    array = np.load(path) if path.is_file() else None
    return array, (np.load(counts) if counts.is_file() else None)


def _half_errors(report: dict[str, Any], rc: int, key: str, device: str) -> list[str]:
    entry = report.get("cases", {}).get(key)
    if entry is None:
        return [f"{device} half exited {rc} before this check" if rc else f"{device}: not run"]
    if "error" in entry:
        return [f"{device}: {entry['error']}"]
    if "texts_per_s" not in entry:
        return [f"{device} half crashed here (exit {rc})"]
    return []


def make_rows(
    out: Path,
    n_texts: int,
    cpu: tuple[dict[str, Any], int],
    gpu: tuple[dict[str, Any], int] | None,
) -> list[Row]:
    cpu_report, cpu_rc = cpu
    gpu_ran = gpu is not None and bool(gpu[0].get("gpu_backend"))
    rows = []
    for case in cases():
        ref = case.reference
        errors = _half_errors(cpu_report, cpu_rc, ref, "CPU")
        cpu_entry = cpu_report.get("cases", {}).get(ref, {})
        cpu_array, cpu_counts = _load(out, "cpu", ref)
        if not errors and cpu_array is not None and not case.gpu_only:
            problem = sanity(case.kind, cpu_array, n_texts, cpu_counts)
            errors += [f"CPU: {problem}"] if problem else []
        row = Row(case.label, cpu_entry.get("texts_per_s"), None, "", None, errors)
        if not gpu_ran:
            row.gpu_note = NOT_RUN
            rows.append(row)
            continue
        assert gpu is not None
        gpu_report, gpu_rc = gpu
        gpu_errors = _half_errors(gpu_report, gpu_rc, case.key, "GPU")
        row.gpu_tps = gpu_report.get("cases", {}).get(case.key, {}).get("texts_per_s")
        gpu_array, gpu_counts = _load(out, "gpu", case.key)
        if not gpu_errors and gpu_array is not None:
            problem = sanity(case.kind, gpu_array, n_texts, gpu_counts)
            gpu_errors += [f"GPU: {problem}"] if problem else []
        row.errors += gpu_errors
        if cpu_array is not None and gpu_array is not None:
            if case.kind == "rerank":
                row.fidelity = compare_scores(cpu_array, gpu_array)
            elif case.kind == "tokens" and (
                cpu_counts is None
                or gpu_counts is None
                or not np.array_equal(cpu_counts, gpu_counts)
            ):
                row.errors.append("CPU and GPU token counts differ")
            else:
                row.fidelity = compare_vectors(cpu_array, gpu_array)
        rows.append(row)
    return rows


def _settings_line(device: str, report: dict[str, Any] | None, key: str) -> str:
    if report is None:
        return f"- {device}: not run"
    entry = report.get("cases", {}).get(key, {})
    settings = entry.get("settings")
    if not settings:
        return f"- {device} `{key}`: no settings recorded"
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if v not in (None, []))
    return f"- {device} `{key}`: {shown}"


def notes(
    n_texts: int,
    cpu_report: dict[str, Any],
    gpu_report: dict[str, Any] | None,
    build_note: str,
    wall_s: float,
) -> str:
    tokens = cpu_report.get("cases", {}).get("mean", {}).get("tokens")
    lines = [
        "",
        f"- {n_texts:,} texts (`short_texts({n_texts})`)"
        + (f", {tokens:,} tokens" if tokens else "")
        + "; texts/s is the best of the timed passes after a warm-up call; a rerank text is "
        "one query-document pair.",
        "- GPU-only rows (options that change the GPU run) show the CPU defaults' texts/s and "
        "compare with the CPU defaults' vectors.",
        f"- Fidelity: min cosine >= {COSINE_MIN} for pooled vectors and for every token row; "
        f"rerank: no score moves more than {RERANK_REL_TOL:.0%} of the CPU scores' standard "
        "deviation (see the script's docstring).",
        "- The reranker has random weights in MiniLM's shape and vocabulary: its throughput is "
        "real, its scores mean nothing.",
        f"- Embedding model: `{cpu_report.get('models', {}).get('embed', '?')}`",
        _settings_line("CPU", cpu_report, "mean")
        + (
            " (GPU VISIBLE: a CUDA build may offload its products)"
            if cpu_report.get("gpu_visible")
            else ""
        ),
        *(
            [_settings_line("GPU", gpu_report, case.key) for case in cases()]
            if gpu_report and gpu_report.get("gpu_backend")
            else ["- GPU: not run"]
        ),
        f"- Build: {build_note}",
        f"- Wall time: {wall_s:.0f} s",
    ]
    return "\n".join(lines)
