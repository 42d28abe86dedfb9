#!/usr/bin/env python3
"""Build llama.cpp's ``llama-server`` and ``llama-embedding`` for the installed llama-cpp-python.

The llama.cpp source comes from the source distribution of the llama-cpp-python version that
is installed (``pip download --no-binary :all: --no-deps llama-cpp-python==<version>``), so the
server and the in-kernel engine run the same llama.cpp commit. Only the two targets are built,
with 2 parallel jobs and nothing fetched at build time (no CURL, no prebuilt web UI, no npm).
``--gpu`` (default ``$LLAMA_GPU``, else none: CPU only) takes its CMake flags and toolkit checks
from ``scripts/llama_build.py``, the same as the in-kernel engine's build. The CPU build is
cached in ``cache_dir()/llama.cpp/<version>/``, a GPU build in
``cache_dir()/llama.cpp/<version>-<gpu>-<hash of its flags>/``; a second run prints that
directory and returns at once.

Usage::

    python scripts/build_llama_server.py            # build if needed, print the bin dir
    python scripts/build_llama_server.py --gpu cuda
    python scripts/build_llama_server.py --force    # rebuild
    python scripts/build_llama_server.py --jobs 4
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # also when loaded by path (tests)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import llama_build

TARGETS = ("llama-server", "llama-embedding")
#: Bumped when the build changes; a cache without this marker is rebuilt.
BUILD_REVISION = "2"
MARKER = "BUILD_REVISION"

# Everything that could reach the network or build more than we need is off. BUILD_SHARED_LIBS
# OFF makes the two binaries self-contained, so the cache holds only them. The GPU flags follow
# (cmake_options); with --gpu none these are the options of every cached CPU build so far.
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
)


def cmake_options(gpu: str = "none") -> list[str]:
    """The CMake options of a build for ``gpu`` (none, cuda, metal or vulkan)."""
    return [*CMAKE_OPTIONS, *llama_build.gpu_cmake_args(gpu)]


def default_gpu() -> str:
    """``$LLAMA_GPU`` (which ``make`` sets from ``GPU=``), else none."""
    return os.environ.get("LLAMA_GPU") or "none"


def installed_version() -> str:
    """The installed llama-cpp-python version, e.g. ``"0.3.36"``."""
    return importlib.metadata.version("llama-cpp-python")


def bin_dir(version: str | None = None, gpu: str | None = None) -> Path:
    """Where the binaries for ``version`` (default: the installed one) and ``gpu`` (default:
    :func:`default_gpu`) are cached. The CPU build keeps the folder it always had."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from embed_nb.paths import cache_dir

    version = version or installed_version()
    gpu = gpu or default_gpu()
    if gpu == "none":
        return cache_dir() / "llama.cpp" / version
    # The same key as the engine's wheels (flags, and for native builds the CPU), GPU named.
    return cache_dir() / "llama.cpp" / llama_build.build_key(version, cmake_options(gpu), gpu)


def is_built(directory: Path) -> bool:
    """Whether every target binary of this build revision is present in ``directory``."""
    marker = directory / MARKER
    return (
        all((directory / name).is_file() for name in TARGETS)
        and marker.is_file()
        and marker.read_text().strip() == BUILD_REVISION
    )


def download_sdist(version: str, dest: Path) -> Path:
    """Fetch the llama-cpp-python sdist into ``dest`` with pip and return its path."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--dest",
            str(dest),
            f"llama-cpp-python=={version}",
        ],
        check=True,
    )
    found = sorted(dest.glob("llama_cpp_python-*.tar.gz")) + sorted(
        dest.glob("llama-cpp-python-*.tar.gz")
    )
    if not found:
        raise SystemExit(f"pip download left no sdist in {dest}")
    return found[0]


def unpack_llama_cpp(sdist: Path, dest: Path) -> Path:
    """Unpack ``sdist`` into ``dest`` and return its ``vendor/llama.cpp`` directory."""
    with tarfile.open(sdist) as archive:
        llama_build.safe_extract(archive, dest)
    roots = [p for p in dest.iterdir() if p.is_dir()]
    for root in roots:
        source = root / "vendor" / "llama.cpp"
        if (source / "CMakeLists.txt").is_file():
            return source
    raise SystemExit(f"{sdist.name} has no vendor/llama.cpp")


def flush_log_at_exit(source: Path) -> None:
    """Make llama-embedding flush its log (which is its output) before it exits.

    llama.cpp's logger writes from a worker thread and is never flushed at exit (it is leaked
    on purpose, llama.cpp issue 22142), so llama-embedding loses the end of its stdout in most
    runs on a small machine. One ``common_log_flush`` before ``main`` returns fixes that; it
    changes nothing else, so the binary stays a faithful reference for its output formats.
    """
    path = source / "examples" / "embedding" / "embedding.cpp"
    text = path.read_text()
    if "common_log_flush" in text:
        return
    anchor = "    llama_backend_free();\n\n    return 0;\n}"
    if anchor not in text:
        print(f"warning: {path} changed shape; its output may be cut short", file=sys.stderr)
        return
    patched = (
        "    llama_backend_free();\n\n    common_log_flush(common_log_main());\n    return 0;\n}"
    )
    path.write_text(text.replace(anchor, patched))


def build(
    source: Path, build_dir: Path, jobs: int, gpu: str = "none", env: dict | None = None
) -> Path:
    """Configure and build the targets; return the directory holding the binaries."""
    configure = ["cmake", "-S", str(source), "-B", str(build_dir), *cmake_options(gpu)]
    subprocess.run(configure, check=True, env=env)
    subprocess.run(
        [
            "cmake",
            "--build",
            str(build_dir),
            "--config",
            "Release",
            "-j",
            str(jobs),
            "--target",
            *TARGETS,
        ],
        check=True,
        env=env,
    )
    return build_dir / "bin"


def install(built: Path, target: Path) -> None:
    """Copy the binaries into ``target`` atomically: a half-copied cache never looks whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    for name in TARGETS:
        shutil.copy2(built / name, staging / name)
    (staging / MARKER).write_text(BUILD_REVISION + "\n")
    staging.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def main(argv: list[str] | None = None) -> int:
    """Build (or find) the binaries and print the directory that holds them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    parser.add_argument("--version", help="llama-cpp-python version (default: installed)")
    parser.add_argument("--gpu", choices=llama_build.GPUS, default=default_gpu(),
                        help="GPU backend (default: $LLAMA_GPU, else none)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the build tree (debugging)")
    args = parser.parse_args(argv)

    version = args.version or installed_version()
    target = bin_dir(version, args.gpu)
    if is_built(target) and not args.force:
        print(target)
        return 0
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install cmake and a C++ compiler first")
    try:
        env = dict(os.environ, **llama_build.check_toolkit(args.gpu))
    except llama_build.BuildError as error:
        raise SystemExit(f"error: {error}") from None

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="embed_nb-llama-build-"))
    try:
        sdist = download_sdist(version, work / "dl")
        source = unpack_llama_cpp(sdist, work / "src")
        flush_log_at_exit(source)
        built = build(source, work / "build", args.jobs, args.gpu, env)
        install(built, target)
    finally:
        if args.keep:
            print(f"build tree kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    print(
        f"built {', '.join(TARGETS)} for llama-cpp-python {version} in {minutes:.1f} min",
        file=sys.stderr,
    )
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
