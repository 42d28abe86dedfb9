"""A model file's first load, in a child process, before the kernel risks it.

Static checks (:mod:`.gguf_check`) refuse what llama.cpp is known to assert on, but llama.cpp
has hundreds of asserts across its architectures, and some machines crash in ggml kernels on
files that are fine. So the first time a file (by content digest) meets this llama.cpp build
on this CPU, a child process loads it and embeds two short texts the way the engine does. The
verdict is kept in ``<cache_dir>/verified/<engine key>/``, so later loads only read one
small file. A crash in the child becomes a :class:`ModelLoadError`; the kernel never sees it.

The same child decides ``llama_model_params.use_extra_bufts``. With it on (llama.cpp's
default), ggml puts quantised weights into "extra" CPU buffer types: AMX tiles on CPUs with
AMX, repacked interleaved blocks (REPACK) elsewhere. On an AMX machine this llama.cpp build
SIGSEGVs in ``ggml_backend_amx_mul_mat`` (at ``ldtilecfg``) for every Q8_0/Q4_0/Q4_K file,
while the same file embeds with the option off. We keep the option on where it works, because
REPACK speeds up quantised matrix products on CPUs without AMX (all-MiniLM-L6-v2 quantised
with llama_model_quantize, 400 texts, 2 threads, a busy 2-core AMD EPYC: Q4_0 194 and 175
texts/s with it on against 128 and 115 off; Q8_0 and Q4_K within the noise), and turn it off
when a child
crashes with it on and runs with it off; that verdict is then kept per machine (the engine key
holds the llama_cpp version, the library files' identity and the CPU's flags), so the next
quantised file goes straight to the safe setting. Why not build flags: users install
llama-cpp-python themselves, and a wheel built elsewhere may carry AMX too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import EmbedNbError, ModelLoadError
from ..files import atomic_write
from ..paths import cache_dir

# Bump when what the child checks changes, so older verdicts are not trusted.
PROBE_VERSION = 1
# A 7B decoder on a slow CPU takes seconds to load and embed; allow for far worse.
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "EMBED_NB_PROBE_TIMEOUT"
# Tests only: make the child crash when extra buffer types are on, as AMX does on some CPUs.
SIMULATE_EXTRA_BUFTS_CRASH_ENV = "EMBED_NB_TEST_EXTRA_BUFTS_CRASH"
PROBE_TEXTS = ("The cat sits on the mat.", "hello [SEP] <s> wörld 🐼 \t 123")

_SOURCE_DIRS = re.compile(r"\S*/(?=[^/\s]+:\d+:)")  # the build tree's path before file:line
_EXIT_REFUSED = 3  # llama.cpp refused the file cleanly: the parent's own load will say why
_EXIT_NOT_FINITE = 4

_MEMO: dict[str, LoadPlan] = {}
_MEMO_LOCK = threading.Lock()


@dataclass(frozen=True)
class LoadPlan:
    """How the engine loads a verified file."""

    extra_bufts: bool = True


def verified_plan(weights: Path, digest: str) -> LoadPlan:
    """The load plan for ``weights`` (whose content digest is ``digest``), probing it once.

    Raises:
        ModelLoadError: the file crashed llama.cpp in the child, or gave non-finite vectors.
    """
    with _MEMO_LOCK:
        known = _MEMO.get(digest)
    if known is not None:
        return known
    record = _verdict(digest, weights.name, lambda store: _probe(weights, store))
    plan = LoadPlan(extra_bufts=bool(record.get("extra_bufts", True)))
    with _MEMO_LOCK:
        _MEMO[digest] = plan
    return plan


def verify_projector(weights: Path, projector: Path, digest: str) -> None:
    """Load ``projector`` onto the model in ``weights`` and embed a test image (and a clip,
    for an audio encoder) in a child, once per pair of files (``digest`` names the pair).

    Raises:
        ModelLoadError: the pair crashed llama.cpp in the child, or gave non-finite vectors.
    """
    with _MEMO_LOCK:
        if digest in _MEMO:
            return
    args = ["projector", str(weights), str(projector)]
    _verdict(digest, projector.name, lambda _store: _run_child(args, projector.name))
    with _MEMO_LOCK:
        _MEMO[digest] = LoadPlan()


def _verdict(digest: str, name: str, probe: Any) -> dict[str, Any]:
    """The stored verdict for ``digest``, else ``probe(store)``'s (stored unless it says not)."""
    store = _store()
    record = _read_json(store / f"{digest}.json") if store else None
    if record is None:
        record = probe(store)
        if store is not None and record.get("cache", True):
            _write_json(store / f"{digest}.json", record)
    if not record.get("ok"):
        raise ModelLoadError(str(record.get("error") or f"llama.cpp cannot use {name}"))
    return record


def _probe(weights: Path, store: Path | None) -> dict[str, Any]:
    machine = _read_json(store / "extra_bufts.json") if store else None
    extra = not (machine and machine.get("ok") is False)
    first = _run_child(["model", str(weights), "1" if extra else "0"], weights.name, extra)
    if first["ok"] or not first.get("crashed") or not extra:
        return first
    second = _run_child(["model", str(weights), "0"], weights.name, False)
    if second["ok"] and store is not None:
        # Extra buffer types crash here while the plain CPU path works: keep them off for
        # every file on this machine and build.
        reason = {"ok": False, "first_seen_with": str(weights), "error": first.get("error")}
        _write_json(store / "extra_bufts.json", reason)
    return second


def _run_child(args: list[str], name: str, extra_bufts: bool = True) -> dict[str, Any]:
    """Run ``python -m embed_nb.engine.probe ARGS``; ``name`` is the file the verdict names."""
    import embed_nb

    package_root = str(Path(embed_nb.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["GGML_NO_BACKTRACE"] = "1"  # ggml would attach gdb to print one: seconds, no use here
    command = [sys.executable, "-m", "embed_nb.engine.probe", *args]
    timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    try:
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {
            "ok": False,
            "cache": False,  # a busy machine may be the cause; try again next time
            "error": f"checking {name} in a child process took over {timeout:.0f} s; "
            f"set {TIMEOUT_ENV} to allow longer",
        }
    if run.returncode == 0:
        return {"ok": True, "extra_bufts": extra_bufts, "probe": PROBE_VERSION}
    if run.returncode == _EXIT_REFUSED:
        # A clean refusal: the parent loads it and reports llama.cpp's own words.
        return {"ok": True, "cache": False, "extra_bufts": extra_bufts}
    detail = _crash_detail(run.stderr)
    if run.returncode == _EXIT_NOT_FINITE:
        return {
            "ok": False,
            "error": f"{name} gives NaN or infinite vectors for its test input; "
            "the file is damaged (its weights or norm constants)",
        }
    how = _exit_description(run.returncode)
    return {
        "ok": False,
        "crashed": True,
        "error": f"llama.cpp crashed on {name} ({how}{': ' + detail if detail else ''}); "
        "the file is damaged or was made for another llama.cpp; get a fresh copy",
    }


def _exit_description(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"exit status {code}"


def _crash_detail(stderr: str) -> str:
    """The line that says why: ggml's assert or abort message, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "GGML_ASSERT" in line or "GGML_ABORT" in line or "error:" in line.lower():
            return _SOURCE_DIRS.sub("", line)[-300:]  # "llama-vocab.cpp:3527: GGML_ASSERT(...)"
    return _SOURCE_DIRS.sub("", lines[-1])[-300:] if lines else ""


# --- the verdict store -----------------------------------------------------------------------


@cache
def engine_key() -> str:
    """What decides whether a file crashes: llama_cpp's version, its libraries, the CPU."""
    import llama_cpp

    parts = [f"probe{PROBE_VERSION}", getattr(llama_cpp, "__version__", "?")]
    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    with contextlib.suppress(OSError):
        for lib in sorted(lib_dir.iterdir()):
            st = lib.stat()
            parts.append(f"{lib.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    parts.append(_cpu_flags())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _cpu_flags() -> str:
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f,
    ):
        for line in f:
            if line.startswith(("flags", "Features")):
                return line.strip()
    import platform

    return f"{platform.machine()} {platform.processor()}"


def _store() -> Path | None:
    try:
        store = cache_dir() / "verified" / engine_key()
        store.mkdir(parents=True, exist_ok=True)
        return store
    except OSError:  # no writable cache: probe every time in this process, remember in memory
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "ok" in data else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with contextlib.suppress(OSError), atomic_write(path, "w") as f:  # a lost verdict: re-probe
        json.dump(data, f)


def forget_memo() -> None:
    """Drop verdicts remembered in this process (tests)."""
    with _MEMO_LOCK:
        _MEMO.clear()


# --- the child -------------------------------------------------------------------------------


def _child(path: str, extra_bufts: bool) -> int:
    """Load ``path`` and embed the probe texts as the engine does; the exit code says how."""
    import numpy as np

    from . import native
    from .context import ContextSettings, DecodeContext

    _no_core_files()
    if extra_bufts and os.environ.get(SIMULATE_EXTRA_BUFTS_CRASH_ENV) == "1":
        os.kill(os.getpid(), signal.SIGSEGV)
    ll = native.lib()
    params = ll.llama_model_default_params()
    params.n_gpu_layers = 0
    params.use_extra_bufts = extra_bufts
    model = ll.llama_model_load_from_file(path.encode(), params)
    if not model:
        return _EXIT_REFUSED
    n_ctx = max(16, min(int(ll.llama_model_n_ctx_train(model)), 512))
    try:
        context = DecodeContext(model, ContextSettings(n_ctx, n_ctx, 1, "auto", -1))
    except EmbedNbError:
        return _EXIT_REFUSED
    rank = context.pooling == 4
    n_out = ll.llama_model_n_cls_out(model) if rank else ll.llama_model_n_embd_out(model)
    tokenizer = native.Tokenizer(ll.llama_model_get_vocab(model))
    sequences = []
    for text in PROBE_TEXTS:
        tokens = tokenizer(text.encode(), add_special=True, parse_special=True)[: n_ctx // 2]
        sequences.append(tokens if len(tokens) else np.zeros(1, np.int32))
    try:
        for pack in (sequences[:1], sequences):  # one sequence alone, then two in one decode
            for out in context.decode(pack, n_out):
                if not np.isfinite(out).all():
                    return _EXIT_NOT_FINITE
    except EmbedNbError:  # a clean refusal; the engine reports it the same way
        return _EXIT_REFUSED
    context.free()
    ll.llama_model_free(model)
    return 0


def _projector_child(model_path: str, projector_path: str) -> int:
    """Load the model and the projector and embed a test image (and clip) as the engine does."""
    import numpy as np

    from ..media import Audio, decode_media
    from . import native
    from .context import ContextSettings
    from .projector import Projector

    _no_core_files()
    ll = native.lib()
    params = ll.llama_model_default_params()
    params.n_gpu_layers = 0
    model = ll.llama_model_load_from_file(model_path.encode(), params)
    if not model:
        return _EXIT_REFUSED
    n_ctx = max(16, min(int(ll.llama_model_n_ctx_train(model)), 4096))
    try:
        projector = Projector(
            Path(projector_path),
            model,
            ContextSettings(n_ctx, n_ctx, 1, "auto", -1),
            ll.llama_model_n_embd_out(model),
            use_gpu=False,
        )
        # A 40x56 gradient: not square, as most photos are not.
        gradient = np.linspace(0, 255, 40 * 56 * 3).reshape(40, 56, 3).astype(np.uint8)
        tests = [decode_media(gradient)] if "vision" in projector.modalities else []
        if projector.sample_rate:
            clip = np.sin(np.arange(projector.sample_rate) / 20.0).astype(np.float32) * 0.1
            tests.append(decode_media(Audio(clip, sample_rate=projector.sample_rate)))
        for media in tests:
            vector, _ = projector.embed(media, 0)
            if not np.isfinite(vector).all():
                return _EXIT_NOT_FINITE
    except EmbedNbError:  # a clean refusal: the parent's own load reports it
        return _EXIT_REFUSED
    projector.free()
    ll.llama_model_free(model)
    return 0


def _no_core_files() -> None:
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash here needs no core file


if __name__ == "__main__":
    if sys.argv[1] == "projector":
        sys.exit(_projector_child(sys.argv[2], sys.argv[3]))
    sys.exit(_child(sys.argv[2], sys.argv[3] == "1"))
