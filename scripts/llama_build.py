#!/usr/bin/env python3
"""Build llama-cpp-python for this machine, once per flag set, and install it into a Python.

pip's wheel cache keys on the sdist, not on ``CMAKE_ARGS``: after a change of flags it silently
reinstalls the wheel built with the old ones. So the wheel is built here with
``--no-cache-dir`` into a cache of our own, one folder per version and CMake args,
``<cache>/wheels/<version>-<hash>/`` (``<cache>`` as embed_nb's ``paths.cache_dir``), and
installed only when the interpreter's copy did not come from that folder (pip records where a
wheel came from in the dist-info's ``direct_url.json``). A second run is a no-op in seconds.

The CMake args, in order (a later ``-D`` wins):

- the CPU profile: ``--cpu`` or ``$LLAMA_CPU`` (default ``native``, see :data:`CPU_PROFILES`)
- the GPU: ``--gpu`` or ``$LLAMA_GPU``: none (default), cuda, metal or vulkan
- ``$CMAKE_ARGS`` as the user set it, last, so that it wins.

Stdlib only; runs under any Python >= 3.9. ``scripts/build_llama_server.py`` imports the GPU
table and the toolkit checks from here.

Usage::

    python scripts/llama_build.py                        # build if needed, install into this python
    python scripts/llama_build.py --gpu cuda --python .venv/bin/python
    python scripts/llama_build.py --print-args           # the CMake args only
    python scripts/llama_build.py --sdist llama_cpp_python-0.3.36.tar.gz   # without a registry
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
from pathlib import Path

#: The llama-cpp-python version embed_nb is built and tested with (pyproject.toml pins the same).
VERSION = "0.3.36"

#: CPU profiles. ``native`` is llama.cpp's default: kernels for this CPU only (fastest here, not
#: portable to an older CPU), and the default here. ``portable`` builds every x86 variant as a
#: loadable backend and picks one at run time. ``openblas`` adds OpenBLAS for the large matrix
#: products: about 1.2x for precision="exact" on all-MiniLM-L6-v2, but it takes over the bf16
#: products of precision="fast" (slower than ggml's own), makes a vector depend a little on what
#: shares its decode (2.6e-5), and parts from a stock llama-server by up to 1.3e-3 on f16
#: weights. docs/performance.md has the figures; hence opt-in.
CPU_PROFILES: dict[str, tuple[str, ...]] = {
    "native": ("-DGGML_NATIVE=ON",),
    "portable": ("-DGGML_NATIVE=OFF", "-DGGML_CPU_ALL_VARIANTS=ON", "-DGGML_BACKEND_DL=ON"),
    "openblas": ("-DGGML_NATIVE=ON", "-DGGML_BLAS=ON", "-DGGML_BLAS_VENDOR=OpenBLAS"),
}
DEFAULT_CPU = "native"

GPUS = ("none", "cuda", "metal", "vulkan")

# Where toolkits live when they are not on PATH (module constants so that tests can move them).
CUDA_BIN_DIRS: tuple[str, ...] = ("/usr/local/cuda/bin", "/opt/cuda/bin")
INCLUDE_DIRS: tuple[str, ...] = ("/usr/include", "/usr/local/include", "/opt/homebrew/include")
LIB_DIRS: tuple[str, ...] = (
    "/usr/lib",
    "/usr/lib/*-linux-gnu",
    "/usr/lib64",
    "/usr/local/lib",
    "/opt/homebrew/lib",
    "/opt/homebrew/opt/openblas/lib",
)


class BuildError(Exception):
    """Something the user must install or change; the message is one line that says what."""


def safe_extract(archive: tarfile.TarFile, dest: str | Path) -> None:
    """Unpack an sdist, refusing members that would land outside ``dest`` or are links or
    devices. tarfile's ``filter="data"`` does this from Python 3.11.4 (and 3.8.17, 3.9.17,
    3.10.12) on; Debian 12's Python 3.11.2 lacks it, so older ones get the same rules here."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
        return
    root = Path(dest).resolve()
    for member in archive.getmembers():
        target = (root / member.name).resolve()
        if root not in (target, *target.parents) or not (member.isfile() or member.isdir()):
            raise BuildError(f"refusing {member.name!r} in {archive.name}: not a plain file")
    archive.extractall(root)  # every member checked above


def cpu_cmake_args(profile: str) -> list[str]:
    """The CMake args of a CPU profile (a key of :data:`CPU_PROFILES`)."""
    if profile not in CPU_PROFILES:
        raise BuildError(
            f"unknown CPU profile {profile!r} (LLAMA_CPU): choose one of {', '.join(CPU_PROFILES)}"
        )
    return list(CPU_PROFILES[profile])


def gpu_cmake_args(gpu: str) -> list[str]:
    """The CMake args for a GPU backend; ``none`` turns every GPU backend off (CPU only)."""
    if gpu == "none":
        return ["-DGGML_CUDA=OFF", "-DGGML_METAL=OFF", "-DGGML_VULKAN=OFF"]
    if gpu == "cuda":
        # Only this machine's GPU architecture: compiling every one takes many times longer.
        native = ["-DCMAKE_CUDA_ARCHITECTURES=native"] if shutil.which("nvidia-smi") else []
        return ["-DGGML_CUDA=ON", *native]
    if gpu == "metal":
        return ["-DGGML_METAL=ON"]
    if gpu == "vulkan":
        return ["-DGGML_VULKAN=ON"]
    raise BuildError(f"unknown GPU {gpu!r}: choose one of {', '.join(GPUS)}")


def cmake_args(gpu: str, cpu: str, env: dict[str, str] | None = None) -> list[str]:
    """All the CMake args: CPU profile, GPU, then the user's ``$CMAKE_ARGS`` (last wins)."""
    env = dict(os.environ) if env is None else env
    return [*cpu_cmake_args(cpu), *gpu_cmake_args(gpu), *shlex.split(env.get("CMAKE_ARGS", ""))]


def _find_file(names: list[str], dirs: list[str]) -> str | None:
    """The first ``dir/name`` that exists; ``dirs`` may hold glob patterns."""
    for pattern in dirs:
        for directory in sorted(glob.glob(pattern)):
            for name in names:
                path = os.path.join(directory, name)
                if os.path.exists(path):
                    return path
    return None


def find_nvcc(env: dict[str, str]) -> str | None:
    """nvcc on PATH, else in ``$CUDA_HOME``/``$CUDA_PATH``/the usual install folders."""
    found = shutil.which("nvcc", path=env.get("PATH", ""))
    if found:
        return found
    homes = [env[key] + "/bin" for key in ("CUDA_HOME", "CUDA_PATH") if env.get(key)]
    return _find_file(["nvcc"], [*homes, *CUDA_BIN_DIRS])


def check_toolkit(
    gpu: str, cpu: str = DEFAULT_CPU, env: dict[str, str] | None = None
) -> dict[str, str]:
    """Check that what the build needs is installed; return env vars the build should add.

    Raises:
        BuildError: one line naming what is missing and how to install it.
    """
    env = dict(os.environ) if env is None else env
    path = env.get("PATH", "")
    extra: dict[str, str] = {}
    if not env.get("CXX") and not any(
        shutil.which(cxx, path=path) for cxx in ("c++", "g++", "clang++")
    ):
        raise BuildError(
            "no C++ compiler found: install one (Debian/Ubuntu: apt-get install build-essential; "
            "macOS: xcode-select --install)"
        )
    if gpu == "cuda":
        nvcc = find_nvcc(env)
        if nvcc is None:
            raise BuildError(
                "the cuda build needs nvcc, which is not on PATH nor in /usr/local/cuda/bin: "
                "install the CUDA toolkit (nvcc), e.g. apt-get install nvidia-cuda-toolkit or "
                "NVIDIA's cuda-toolkit package, or put its bin folder on PATH"
            )
        if not shutil.which("nvcc", path=path):
            extra["CUDACXX"] = nvcc  # CMake's way to name a CUDA compiler off PATH
    elif gpu == "vulkan":
        sdk = env.get("VULKAN_SDK")
        missing = []
        sdk_bin = [sdk + "/bin"] if sdk else []
        if not shutil.which("glslc", path=path) and not _find_file(["glslc"], sdk_bin):
            missing.append("glslc")
        includes = [*([sdk + "/include"] if sdk else []), *INCLUDE_DIRS]
        if not _find_file(["vulkan/vulkan.h"], includes):
            missing.append("the headers (vulkan/vulkan.h)")
        libs = [*([sdk + "/lib"] if sdk else []), *LIB_DIRS]
        if not _find_file(["libvulkan.so", "libvulkan.dylib"], libs):
            missing.append("the loader library (libvulkan)")
        if missing:
            raise BuildError(
                f"the vulkan build needs {', '.join(missing)}: install the Vulkan SDK "
                "(and set VULKAN_SDK), or on Debian/Ubuntu apt-get install libvulkan-dev glslc"
            )
    elif gpu == "metal" and sys.platform != "darwin":
        raise BuildError(
            f"the metal build needs macOS (Apple's Metal); this is {sys.platform}: "
            "use --gpu none, cuda or vulkan"
        )
    openblas = ["libopenblas.so", "libopenblas.dylib"]
    if cpu == "openblas" and not _find_file(openblas, list(LIB_DIRS)):
        raise BuildError(
            "the openblas CPU profile needs OpenBLAS: apt-get install libopenblas-dev "
            "(macOS: brew install openblas)"
        )
    return extra


def cpu_fingerprint() -> str:
    """What a ``native`` build depends on besides its flags: the machine and its CPU features.

    Part of the cache key, so that a cache on a home folder shared by different machines never
    hands one machine's native wheel (and its illegal instructions) to another.
    """
    parts = [platform.machine(), platform.processor()]
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            parts += [line for line in cpuinfo if line.startswith(("flags", "Features"))][:1]
    except OSError:
        pass
    return "\n".join(parts)


def build_key(version: str, args: list[str], tag: str = "") -> str:
    """``<version>[-<tag>]-<hash>``: the cache folder name for a build of ``version`` with
    ``args`` (``tag`` names it for people, e.g. the GPU)."""
    native = "-DGGML_NATIVE=OFF" not in args
    text = "\n".join([*args, cpu_fingerprint() if native else ""])
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return "-".join([version, *([tag] if tag else []), digest])


def cache_root(env: dict[str, str] | None = None) -> Path:
    """embed_nb's user cache (the rule of ``embed_nb.paths.cache_dir``, without importing it)."""
    env = dict(os.environ) if env is None else env
    if env.get("EMBED_NB_CACHE_DIR"):
        return Path(env["EMBED_NB_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "embed_nb"


def wheel_dir(version: str, args: list[str], env: dict[str, str] | None = None) -> Path:
    """The folder that holds the wheel of ``version`` built with ``args``."""
    return cache_root(env) / "wheels" / build_key(version, args)


def cached_wheel(directory: Path, version: str) -> Path | None:
    """The llama-cpp-python ``version`` wheel in ``directory``, if one was built."""
    found = sorted(directory.glob(f"llama_cpp_python-{version}-*.whl"))
    return found[0] if found else None


_PROBE = """
import json, sys
try:
    import importlib.metadata as metadata
    dist = metadata.distribution("llama-cpp-python")
    print(json.dumps([dist.version, dist.read_text("direct_url.json")]))
except Exception:
    print(json.dumps([None, None]))
"""


def installed_wheel(python: str) -> tuple[str | None, Path | None]:
    """The llama-cpp-python version installed in ``python`` and the wheel file it came from."""
    done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"{python} does not run ({last}): give --python a working interpreter")
    version, direct_url = json.loads(done.stdout)
    source = None
    if direct_url:
        url = urllib.parse.urlparse(json.loads(direct_url).get("url", ""))
        if url.scheme == "file":
            source = Path(urllib.parse.unquote(url.path))
    return version, source


def build_wheel(
    python: str, spec: str, args: list[str], target: Path, extra_env: dict[str, str]
) -> Path:
    """Build the wheel of ``spec`` (a requirement or an sdist path) with ``args`` into ``target``.

    The wheel is built in a temporary folder next to ``target`` and renamed into place, so a
    half-built folder never looks whole and two builds at once do not mix.
    """
    env = dict(os.environ, **extra_env)
    env["CMAKE_ARGS"] = shlex.join(args)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(_cpu_count()))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    staging.chmod(0o755)  # a cache folder like the others (mkdtemp makes it 0700)
    try:
        # --no-cache-dir: pip's wheel cache would hand back a wheel built with other flags;
        # --no-binary: never a prebuilt wheel from an index, which ignores CMAKE_ARGS.
        command = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python",
                   "-w", str(staging), spec]  # fmt: skip
        if subprocess.run(command, env=env, check=False).returncode != 0:
            raise BuildError(f"building {spec} failed (pip's output above says why)")
        if not list(staging.glob("llama_cpp_python-*.whl")):
            raise BuildError(f"pip wheel left no llama_cpp_python wheel in {staging}")
        try:
            staging.rename(target)
        except OSError:  # another build finished first: keep its wheel
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def install_wheel(python: str, wheel: Path) -> None:
    """Install ``wheel`` into ``python``, replacing any llama-cpp-python there.

    --no-deps: its dependencies (numpy, jinja2, diskcache, typing-extensions) come with
    embed_nb's own install, which pins this version.
    """
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--force-reinstall", str(wheel)]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:
        raise BuildError(f"installing {wheel} into {python} failed (pip's output above says why)")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def ensure(
    python: str, version: str, gpu: str, cpu: str, sdist: str | None = None, force: bool = False
) -> Path:
    """Build llama-cpp-python unless cached, install it unless installed; return the wheel."""
    args = cmake_args(gpu, cpu)
    directory = wheel_dir(version, args)
    wheel = None if force else cached_wheel(directory, version)
    if wheel is not None:
        have, source = installed_wheel(python)
        if have == version and source is not None and _same(source, wheel):
            print(f"llama-cpp-python {version} is built for these flags: {directory.name}",
                  file=sys.stderr)  # fmt: skip
            return wheel
    else:
        if sdist is not None and not Path(sdist).is_file():
            raise BuildError(f"no sdist at {sdist}")
        extra_env = check_toolkit(gpu, cpu)
        print(f"building llama-cpp-python {version} with CMAKE_ARGS={shlex.join(args)!r}: "
              f"about 5 minutes on 2 cores, once per flag set, into {directory}",
              file=sys.stderr)  # fmt: skip
        started = time.monotonic()
        if force and directory.exists():
            shutil.rmtree(directory)
        spec = str(Path(sdist).resolve()) if sdist else f"llama-cpp-python=={version}"
        build_wheel(python, spec, args, directory, extra_env)
        wheel = cached_wheel(directory, version)
        if wheel is None:
            raise BuildError(f"the build of {spec} gave no llama-cpp-python {version} wheel")
        print(f"built in {(time.monotonic() - started) / 60:.1f} min", file=sys.stderr)
    install_wheel(python, wheel)
    print(f"installed {wheel.name} ({directory.name}) into {python}", file=sys.stderr)
    return wheel


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", choices=GPUS, default=os.environ.get("LLAMA_GPU") or "none",
                        help="GPU backend (default: $LLAMA_GPU, else none)")  # fmt: skip
    parser.add_argument("--cpu", default=os.environ.get("LLAMA_CPU") or DEFAULT_CPU,
                        help=f"CPU profile: {', '.join(CPU_PROFILES)} "
                        f"(default: $LLAMA_CPU, else {DEFAULT_CPU})")  # fmt: skip
    parser.add_argument("--version", default=VERSION,
                        help=f"llama-cpp-python version (default {VERSION})")  # fmt: skip
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter to install into (default: this one)")  # fmt: skip
    parser.add_argument("--sdist", help="build from this local sdist instead of the index")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--print-args", action="store_true", help="print the CMake args only")
    options = parser.parse_args(argv)
    try:
        if options.print_args:
            print(shlex.join(cmake_args(options.gpu, options.cpu)))
            return 0
        ensure(options.python, options.version, options.gpu, options.cpu,
               options.sdist, options.force)  # fmt: skip
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
