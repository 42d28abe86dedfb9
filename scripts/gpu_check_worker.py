"""scripts/gpu_check.py's halves: one device, every case, in its own process.

:func:`run_worker` starts ``python scripts/gpu_check.py --worker cpu|gpu ...`` (the entry
point, re-invoked), whose :func:`worker` measures each case and leaves a JSON report and the
arrays in a folder for :mod:`gpu_check_compare`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from gpu_check_cases import cases

#: The entry point the halves re-invoke with ``--worker``.
ENTRY = Path(__file__).resolve().with_name("gpu_check.py")
WARMUP_TEXTS = 32
QUERY = "How do I read a file line by line?"


def write_json(path: Path, data: Any) -> None:
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
    gpu = native.supports_gpu_offload()
    report["gpu_backend"] = gpu
    write_json(out / f"{device}.json", report)
    if device == "gpu" and not gpu:
        print("[gpu] llama_supports_gpu_offload() is false: no GPU half", file=sys.stderr)
        return 0
    texts = short_texts(n_texts)
    for case in cases():
        if case.gpu_only and device == "cpu":
            continue
        entry: dict[str, Any] = {}
        report["cases"][case.key] = entry
        write_json(out / f"{device}.json", report)  # a crash now shows which case it was
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
            write_json(out / f"{device}.json", report)
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
        write_json(out / f"{device}.json", report)
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
        str(ENTRY),
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
