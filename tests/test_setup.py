"""Set-up: the project venv that every make command uses, and scripts/llama_build.py.

The make tests copy the Makefile and scripts/llama_build.py into a temporary folder and run
``make llama PYTHON=/usr/bin/python3``: the venv step and the llama-cpp-python install step,
with a tiny stand-in wheel seeded into the build cache, so nothing compiles and nothing comes
from the network. They take about 10 s (one ``python -m venv``), and skip where
/usr/bin/python3 is not an externally managed (PEP 668) Python, since that is what they are
about.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
# A module only the stand-in wheel has: where it imports from shows where pip installed.
FAKE_MODULE = "embed_nb_test_fake_llama"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lb = _load("llama_build")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """os.environ without the build knobs, with a cache of its own; returned as a dict too."""
    for name in ("CMAKE_ARGS", "LLAMA_CPU", "LLAMA_GPU", "XDG_CACHE_HOME", "VIRTUAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    return dict(os.environ)


# --- the CMake args -----------------------------------------------------------------------


def test_pinned_version_is_the_one_pyproject_pins() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"llama-cpp-python=={lb.VERSION}" in deps


def test_default_is_native_cpu_with_every_gpu_off(clean_env: dict[str, str]) -> None:
    assert lb.DEFAULT_CPU == "native"
    assert lb.cmake_args("none", lb.DEFAULT_CPU, clean_env) == [
        "-DGGML_NATIVE=ON", "-DGGML_CUDA=OFF", "-DGGML_METAL=OFF", "-DGGML_VULKAN=OFF",
    ]  # fmt: skip


def test_cpu_profiles() -> None:
    assert lb.cpu_cmake_args("portable") == [
        "-DGGML_NATIVE=OFF", "-DGGML_CPU_ALL_VARIANTS=ON", "-DGGML_BACKEND_DL=ON",
    ]  # fmt: skip
    assert {"-DGGML_BLAS=ON", "-DGGML_BLAS_VENDOR=OpenBLAS"} <= set(lb.cpu_cmake_args("openblas"))
    with pytest.raises(lb.BuildError, match="native, portable, openblas"):
        lb.cpu_cmake_args("fastest")


def test_gpu_args(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert lb.gpu_cmake_args("cuda") == ["-DGGML_CUDA=ON"]
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    # With a GPU to ask, only its architecture is compiled (the build stays short).
    assert lb.gpu_cmake_args("cuda") == ["-DGGML_CUDA=ON", "-DCMAKE_CUDA_ARCHITECTURES=native"]
    assert lb.gpu_cmake_args("metal") == ["-DGGML_METAL=ON"]
    assert lb.gpu_cmake_args("vulkan") == ["-DGGML_VULKAN=ON"]
    with pytest.raises(lb.BuildError, match="none, cuda, metal, vulkan"):
        lb.gpu_cmake_args("rocm")


def test_user_cmake_args_come_last_so_they_win(clean_env: dict[str, str]) -> None:
    env = dict(clean_env, CMAKE_ARGS="-DGGML_NATIVE=OFF '-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod'")
    args = lb.cmake_args("vulkan", "openblas", env)
    assert args[-2:] == ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod"]
    assert args.index("-DGGML_BLAS=ON") < args.index("-DGGML_VULKAN=ON") < len(args) - 2


def test_print_args_reads_the_environment(clean_env: dict[str, str]) -> None:
    env = dict(clean_env, LLAMA_CPU="openblas", CMAKE_ARGS="-DX=1")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "llama_build.py"), "--print-args"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == [*lb.cpu_cmake_args("openblas"), *lb.gpu_cmake_args("none"),
                                   "-DX=1"]  # fmt: skip


def test_cache_folder_is_keyed_by_version_and_flags(clean_env: dict[str, str]) -> None:
    args = lb.cmake_args("none", "native", clean_env)
    folder = lb.wheel_dir("0.3.36", args, clean_env)
    assert folder.parent == Path(clean_env["EMBED_NB_CACHE_DIR"]) / "wheels"
    assert folder.name.startswith("0.3.36-")
    assert lb.wheel_dir("0.3.36", list(args), clean_env) == folder
    assert lb.wheel_dir("0.3.36", [*args, "-DGGML_BLAS=ON"], clean_env) != folder
    assert lb.wheel_dir("0.3.37", args, clean_env) != folder
    no_override = {k: v for k, v in clean_env.items() if k != "EMBED_NB_CACHE_DIR"}
    # embed_nb.paths.cache_dir's rule, mirrored without importing embed_nb.
    xdg = dict(no_override, XDG_CACHE_HOME="/somewhere")
    assert lb.cache_root(xdg) == Path("/somewhere/embed_nb")
    assert lb.cache_root(no_override) == Path.home() / ".cache" / "embed_nb"


# --- toolkit checks: one line that names what is missing ----------------------------------


def _bin(tmp_path: Path, *names: str) -> Path:
    """A PATH folder holding empty executables with these names."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return folder


def test_cuda_without_nvcc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lb, "CUDA_BIN_DIRS", (str(tmp_path / "no-cuda"),))
    env = {"PATH": str(_bin(tmp_path, "c++"))}
    with pytest.raises(lb.BuildError) as raised:
        lb.check_toolkit("cuda", env=env)
    message = str(raised.value)
    assert "install the CUDA toolkit (nvcc)" in message and "\n" not in message
    # nvcc off PATH, in a CUDA install folder: found and named to CMake.
    nvcc = _bin(tmp_path / "cuda", "nvcc") / "nvcc"
    assert lb.check_toolkit("cuda", env=dict(env, CUDA_HOME=str(nvcc.parents[1]))) == {
        "CUDACXX": str(nvcc)
    }
    assert lb.check_toolkit("cuda", env={"PATH": f"{env['PATH']}:{nvcc.parent}"}) == {}


def test_cuda_error_from_the_command_is_one_line(clean_env: dict[str, str], tmp_path: Path) -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('b', {str(REPO / 'scripts' / 'llama_build.py')!r})\n"  # noqa: E501
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        "b.CUDA_BIN_DIRS = ()\n"
        "sys.exit(b.main(['--gpu', 'cuda']))\n"
    )
    env = dict(clean_env, PATH=str(_bin(tmp_path, "c++")))
    env.pop("CUDA_HOME", None)
    env.pop("CUDA_PATH", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: the cuda build needs nvcc")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "install the CUDA toolkit (nvcc)" in done.stderr


def test_vulkan_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    include, lib = tmp_path / "include", tmp_path / "lib"
    monkeypatch.setattr(lb, "INCLUDE_DIRS", (str(include),))
    monkeypatch.setattr(lb, "LIB_DIRS", (str(lib),))
    env = {"PATH": str(_bin(tmp_path, "c++"))}
    with pytest.raises(lb.BuildError) as raised:
        lb.check_toolkit("vulkan", env=env)
    message = str(raised.value)
    assert "glslc" in message and "vulkan/vulkan.h" in message and "libvulkan" in message
    assert "libvulkan-dev glslc" in message and "\n" not in message
    (include / "vulkan").mkdir(parents=True)
    (include / "vulkan" / "vulkan.h").write_text("")
    lib.mkdir()
    (lib / "libvulkan.so").write_text("")
    with pytest.raises(lb.BuildError, match=r"needs glslc: "):
        lb.check_toolkit("vulkan", env=env)
    _bin(tmp_path, "glslc")
    assert lb.check_toolkit("vulkan", env=env) == {}


@pytest.mark.skipif(sys.platform == "darwin", reason="Metal builds on macOS")
def test_metal_needs_macos(tmp_path: Path) -> None:
    with pytest.raises(lb.BuildError, match="needs macOS"):
        lb.check_toolkit("metal", env={"PATH": str(_bin(tmp_path, "c++"))})


def test_no_compiler_and_no_openblas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(lb.BuildError, match="no C\\+\\+ compiler found: install one"):
        lb.check_toolkit("none", env={"PATH": str(tmp_path)})
    monkeypatch.setattr(lb, "LIB_DIRS", (str(tmp_path),))
    env = {"PATH": str(_bin(tmp_path, "c++"))}
    assert lb.check_toolkit("none", env=env) == {}
    with pytest.raises(lb.BuildError, match="apt-get install libopenblas-dev"):
        lb.check_toolkit("none", "openblas", env=env)


# --- build_llama_server.py shares the GPU flags, and keeps its CPU cache folder -----------


def test_server_build_shares_the_gpu_flags(clean_env: dict[str, str]) -> None:
    server = _load("build_llama_server")
    # The options of every CPU build cached so far: changing them means a 10-minute rebuild
    # wherever the old folder is cached, so the default must keep them (and its folder).
    assert server.cmake_options("none") == [
        "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF",
        "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=ON", "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAMA_BUILD_SERVER=ON", "-DGGML_CUDA=OFF", "-DGGML_METAL=OFF", "-DGGML_VULKAN=OFF",
    ]  # fmt: skip
    assert server.cmake_options("cuda")[-len(lb.gpu_cmake_args("cuda")) :] == lb.gpu_cmake_args(
        "cuda"
    )
    cache = Path(clean_env["EMBED_NB_CACHE_DIR"])
    assert server.bin_dir("0.3.36") == cache / "llama.cpp" / "0.3.36"
    folders = {server.bin_dir("0.3.36", gpu) for gpu in lb.GPUS}
    assert len(folders) == 4
    assert server.bin_dir("0.3.36", "vulkan").name.startswith("0.3.36-vulkan-")


# --- make: the venv fixes PEP 668 ----------------------------------------------------------


def _externally_managed() -> bool:
    if not SYSTEM_PYTHON.is_file():
        return False
    stdlib = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return bool(stdlib) and (Path(stdlib) / "EXTERNALLY-MANAGED").is_file()


needs_pep668_python = pytest.mark.skipif(
    shutil.which("make") is None or not _externally_managed(),
    reason="needs make and /usr/bin/python3 marked EXTERNALLY-MANAGED (a stock Debian/Ubuntu "
    "python3), whose refusal of `pip install` is what the venv is for",
)


def _fake_wheel(folder: Path, version: str) -> Path:
    """A tiny llama-cpp-python wheel: its one module is FAKE_MODULE."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"llama_cpp_python-{version}.dist-info"
    files = {
        f"{FAKE_MODULE}.py": b"",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: llama_cpp_python\nVersion: {version}\n"
        .encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }  # fmt: skip
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"llama_cpp_python-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _project(tmp_path: Path) -> Path:
    """The files `make venv` and `make llama` use, copied into a fresh folder."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "Makefile", project / "Makefile")
    shutil.copy2(REPO / "scripts" / "llama_build.py", project / "scripts" / "llama_build.py")
    return project


def _make(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=project, env=env,
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@needs_pep668_python
def test_make_installs_into_the_venv_where_system_pip_refuses(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    """About 10 s: one `python -m venv` with /usr/bin/python3, then pip installs from files."""
    project = _project(tmp_path)
    for name in ("PIP_BREAK_SYSTEM_PACKAGES", "PIP_REQUIRE_VIRTUALENV", "PYTHONPATH"):
        clean_env.pop(name, None)
    env = dict(clean_env, PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")
    # Seed the build cache with a stand-in wheel under the default flags' key, so `make llama`
    # installs it instead of compiling llama.cpp.
    folder = lb.wheel_dir(lb.VERSION, lb.cmake_args("none", lb.DEFAULT_CPU, env), env)
    wheel = _fake_wheel(folder, lb.VERSION)

    # Without the venv: the system pip refuses (--dry-run: it would install nothing anyway).
    refused = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "--no-deps", str(wheel)],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr

    done = _make(project, env, "llama", f"PYTHON={SYSTEM_PYTHON}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "creating .venv" in done.stdout
    venv_python = project / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", f"import {FAKE_MODULE}, sys; print({FAKE_MODULE}.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert Path(where).resolve().is_relative_to((project / ".venv").resolve())
    system = subprocess.run([str(SYSTEM_PYTHON), "-c", f"import {FAKE_MODULE}"], check=False,
                            capture_output=True, env=env)  # fmt: skip
    assert system.returncode != 0

    # Again: the venv is kept and the wheel is not reinstalled.
    stamp = project / ".venv" / "kept"
    stamp.write_text("")
    again = _make(project, env, "llama", f"PYTHON={SYSTEM_PYTHON}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert stamp.exists() and "creating .venv" not in again.stdout
    assert "is built for these flags" in again.stderr and "installed" not in again.stderr

    # A venv whose base interpreter is gone is made afresh.
    (project / ".venv" / "bin" / "python3").unlink()
    (project / ".venv" / "bin" / "python3").symlink_to(tmp_path / "moved" / "python3")
    broken = _make(project, env, "venv", f"PYTHON={SYSTEM_PYTHON}")
    assert broken.returncode == 0, broken.stdout + broken.stderr
    assert "creating .venv" in broken.stdout and not stamp.exists()
    subprocess.run([str(venv_python), "-m", "pip", "--version"], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_says_which_package_gives_venv(tmp_path: Path) -> None:
    """A python without ensurepip (Debian without python3-venv), not as root: one clear line."""
    project = _project(tmp_path)
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    python = fake_bin / "python3"
    python.write_text(
        f'#!/bin/sh\ncase "$*" in *ensurepip*) exit 1;; esac\nexec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    (fake_bin / "rm").symlink_to(shutil.which("rm") or "/bin/rm")
    # `id` reports a non-root user, so make does not try apt-get itself.
    (fake_bin / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake_bin / "id").chmod(0o755)
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "--no-print-directory", "venv"], cwd=project, env={"PATH": str(fake_bin)},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if not line.startswith("make:")]
    assert lines == [
        "error: python3 cannot make a venv: install python3-venv (apt-get install python3-venv)"
    ]
    assert not (project / ".venv").exists()


@pytest.mark.parametrize("data_filter", [True, False], ids=["tarfile-filter", "python<3.11.4"])
def test_sdists_unpack_safely_on_every_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_filter: bool
) -> None:
    """Debian 12's Python 3.11.2 has no ``filter="data"``: the fallback keeps the same rules."""
    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as archive:
        member = tarfile.TarInfo("pkg/vendor/file.txt")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"ok"))
    with tarfile.open(good) as archive:
        lb.safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "vendor" / "file.txt").read_text() == "ok"
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        member = tarfile.TarInfo("../escaped.txt")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"no"))
    with tarfile.open(evil) as archive, pytest.raises((lb.BuildError, tarfile.TarError)):
        lb.safe_extract(archive, tmp_path / "out2")
    assert not (tmp_path / "escaped.txt").exists()
