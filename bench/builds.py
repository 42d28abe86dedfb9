"""Texts per second of the engine on different llama.cpp builds, in one run.

Each build is a llama-cpp-python wheel (as ``scripts/llama_build.py`` caches them) or a folder
holding ``libllama.so`` and its ggml libraries (a CMake build's ``bin/``). Every build runs
in its own child process with ``LLAMA_CPP_LIB_PATH`` pointing at its libraries, so one
interpreter compares them all. For each build: precision exact (the f32 copy), fast (the bf16
copy where the build has bf16 dot products) and the f16 file as it is (``upcast=False``).
Ratios are to the first build's exact rate, measured in the same run; the builds take turns
for ``--rounds`` rounds and the best rate counts.

    python bench/builds.py [--texts 1500] [--rounds 2] [--env NAME=VALUE] LABEL=WHEEL_OR_DIR...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from argparse import Namespace
from pathlib import Path

from _common import best_seconds, corpus, model_path, parser

CONFIGS = {
    "exact": {"precision": "exact"},
    "fast": {"precision": "fast"},
    "f16 as is": {"upcast": False},
}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for every child")
    p.add_argument("builds", nargs="+", help="LABEL=path to a wheel or a folder of libraries")
    args = p.parse_args()
    path = model_path(args.model)
    corpus(args.texts)  # fails early when the corpus is short
    with tempfile.TemporaryDirectory() as scratch:
        builds = {label: _libraries(where, Path(scratch) / label) for label, where in _pairs(args)}
        best: dict[tuple[str, str], float] = {}
        system: dict[str, str] = {}
        for _ in range(args.rounds):
            for label, libs in builds.items():
                rates, system[label] = _measure(libs, path, args)
                for config, rate in rates.items():
                    best[label, config] = max(best.get((label, config), 0.0), rate)
    baseline = best[next(iter(builds)), "exact"]
    print(f"{args.texts} texts, {args.threads} threads, model {path}; ratios to the first exact")
    print(f"{'build':<24} " + " ".join(f"{c:>20}" for c in CONFIGS))
    for label in builds:
        cells = [f"{best[label, c]:8.1f} ({best[label, c] / baseline:4.2f}x)" for c in CONFIGS]
        print(f"{label:<24} " + " ".join(f"{cell:>20}" for cell in cells))
    for label, info in system.items():
        print(f"{label}: {info}")


def _pairs(args: Namespace) -> list[tuple[str, str]]:
    pairs = []
    for item in args.builds:
        label, _, where = item.partition("=")
        if not where:
            raise SystemExit(f"give builds as LABEL=PATH, not {item!r}")
        pairs.append((label, where))
    return pairs


def _libraries(where: str, scratch: Path) -> Path:
    """The folder of a build's shared libraries: as given, or unpacked from a wheel."""
    source = Path(where).expanduser()
    if source.is_dir():
        return source
    with zipfile.ZipFile(source) as wheel:
        members = [name for name in wheel.namelist() if name.startswith("llama_cpp/lib/")]
        wheel.extractall(scratch, members)
    return scratch / "llama_cpp" / "lib"


def _measure(libs: Path, model: str, args: Namespace) -> tuple[dict[str, float], str]:
    env = dict(os.environ, LLAMA_CPP_LIB_PATH=str(libs))
    env.update(item.split("=", 1) for item in args.env)
    done = subprocess.run(
        [sys.executable, __file__, "--child", model, str(args.texts), str(args.threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout.splitlines()[-1])
    return answer["rates"], answer["system"]


def _child(model: str, n_texts: int, threads: int) -> None:
    """One build: every config, the best of two passes each, as one JSON line."""
    import llama_cpp

    from embed_nb.engine import LocalModel

    texts = corpus(n_texts)
    rates = {}
    for name, options in CONFIGS.items():
        with LocalModel(model, n_threads=threads, **options) as engine:  # type: ignore[arg-type]
            engine.embed(texts[:64])
            rates[name] = n_texts / best_seconds(lambda: engine.embed(texts), 2)
    system = llama_cpp.llama_print_system_info().decode().strip(" |")
    print(json.dumps({"rates": rates, "system": system}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
