"""Shared pieces of the benchmarks: the model file, the corpus, and a timer."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", help="GGUF path (default: the bundled all-MiniLM-L6-v2, f16)")
    p.add_argument("--texts", type=int, default=2500, help="how many real short texts")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--repeat", type=int, default=3, help="runs per contender; the best counts")
    return p


def model_path(arg: str | None) -> str:
    if arg:
        return arg
    from embed_nb.models import default_model_path

    return str(default_model_path())


def corpus(n: int) -> list[str]:
    from embed_nb.datasets import short_texts

    texts = short_texts(n)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} short texts available, asked for {n}")
    return texts


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def percentile_ms(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] * 1000 if len(samples) > 1 else 0.0
