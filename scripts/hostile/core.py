"""The probe model, the subprocess runner, outcome classification and the report table.

A :class:`Probe` names a child-side function (``module:function``) and its JSON parameters. The
runner starts ``python -m hostile.child SPEC`` with its own HOME and cache directory, resource
limits and a deadline, reads one ``@@RESULT`` JSON line per probe from its stdout, and classifies
what happened. Probes that share a ``batch`` key run one after another in one child (to save
interpreter start-ups); when that child dies, the probe it was running is charged with the crash
or hang, and the probes it had not reached run again in a fresh child.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import selectors
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"

#: Outcome categories, worst first (a probe gets exactly one).
OUTCOMES = ("crash", "hang", "data_loss", "leak", "wrong", "traceback", "clean")
#: The issue's kinds of finding: the rows of the table.
KINDS = {
    "dies": "process dies",
    "lost": "data lost",
    "wrong": "wrong results",
    "keys": "keys shown",
    "hangs": "hangs and memory",
    "tracebacks": "tracebacks",
}
#: Who fixes what (the four areas of the work).
AREAS = {
    "engine": "engine / GGUF",
    "files": "cache, model files, loading",
    "remote": "remote backend",
    "front": "front ends: API, magics, CLI, widgets",
}
COLUMNS = ("tried", "clean error", "wrong", "traceback", "crash", "hang", "data loss", "leak")
_COLUMN_OF = {
    "clean": "clean error",
    "wrong": "wrong",
    "traceback": "traceback",
    "crash": "crash",
    "hang": "hang",
    "data_loss": "data loss",
    "leak": "leak",
}


@dataclass
class Probe:
    """One hostile input and the check of what embed_nb did with it."""

    name: str
    kind: str  # a key of KINDS
    area: str  # a key of AREAS
    func: str  # "module:function" in the hostile package, run in the child
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 30.0
    mem_mb: int | None = 4096  # RLIMIT_AS of the child; None: no limit
    batch: str | None = None  # probes with the same key may share one child process
    env: dict[str, str] = field(default_factory=dict)
    seed_default_model: bool = False  # hard-link the converted default model into the cache
    drop_dac: bool = False  # run without CAP_DAC_OVERRIDE (so file modes bind, even as root)
    corrupt_ok: bool = False  # a *.corrupt-* file in the cache is allowed (really corrupt DB)
    guard: list[str] = field(default_factory=list)  # files (relative to the work dir) to keep


@dataclass
class Result:
    """What a probe came to."""

    name: str
    kind: str
    area: str
    outcome: str
    detail: str
    seconds: float
    clean_error: bool = False  # for "clean": an error (True) or a correct result (False)


@dataclass
class Context:
    """Everything the runner needs, shared by all probes of a run."""

    workroot: Path
    fixtures: Path
    secret: str
    python: str = sys.executable
    keep: bool = False
    verbose: bool = False
    default_cache: Path | None = None  # the fixture cache that holds the converted default model
    tree: Path = REPO  # the source tree whose embed_nb (and tests/) the children import
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def new_workdir(self, stem: str) -> Path:
        with self.lock:
            self.counter += 1
            n = self.counter
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
        work = self.workroot / f"{n:04d}-{safe}"
        for sub in ("home", "cache", "tmp"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        return work


# --------------------------------------------------------------------------------------------
# The secret and where it may show


def make_secret() -> str:
    """A recognisable random API key: a fixed prefix, a '+' (so URL encoding changes it) and 24
    random letters and digits of mixed case (so a case change is still caught)."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(24))
    return f"sk-hostile+{core}"


def secret_core(secret: str) -> str:
    return secret.rsplit("+", 1)[-1]


def leak_forms(secret: str) -> tuple[list[str], list[str]]:
    """(case-insensitive needles, case-sensitive needles) whose presence means the key leaked.

    The random core is enough: any text holding it holds the key, whatever happened to the
    prefix, in any case, URL-encoded or not. Base64 forms cover the core at each of the three
    alignments a longer encoded string (``Bearer <key>``, ``user:<key>``) may put it in.
    """
    core = secret_core(secret)
    insensitive = [core.lower()]
    sensitive = []
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + core.encode()).decode()
        # Drop the characters that mix in the padding bytes or the unknown tail.
        start = (pad * 4 + 2) // 3
        inner = encoded[start : len(encoded) - 4]
        if len(inner) >= 12:
            sensitive.append(inner)
    return insensitive, sensitive


def find_leak(text: str, secret: str) -> str | None:
    """The form in which ``secret`` shows in ``text``, or None."""
    insensitive, sensitive = leak_forms(secret)
    low = text.lower()
    for needle in insensitive:
        if needle in low:
            return "the key (any case)"
    for needle in sensitive:
        if needle in text:
            return "the key, base64-encoded"
    return None


# --------------------------------------------------------------------------------------------
# Running


def _preexec(mem_mb: int | None) -> Callable[[], None]:
    def limit() -> None:
        import resource

        os.setsid()  # its own process group, so a timeout kills the grandchildren too
        if mem_mb:
            size = mem_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return limit


def _file_state(path: Path) -> tuple[int, str] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return len(data), hashlib.sha256(data).hexdigest()


def _seed_default_model(ctx: Context, cache: Path) -> None:
    """Hard-link the fixture cache's converted model files into a probe's own cache dir."""
    if ctx.default_cache is None:
        return
    for sub in ("models", "upcast"):
        source = ctx.default_cache / sub
        if not source.is_dir():
            continue
        target = cache / sub
        target.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():
            if item.is_file() and not (target / item.name).exists():
                try:
                    os.link(item, target / item.name)
                except OSError:
                    shutil.copy2(item, target / item.name)


def child_env(ctx: Context, work: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith(("EMBED_NB_", "HF_", "XDG_"))
    }
    env.update(
        HOME=str(work / "home"),
        EMBED_NB_CACHE_DIR=str(work / "cache"),
        TMPDIR=str(work / "tmp"),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(work / "home" / "hf"),
        PYTHONPATH=os.pathsep.join([str(SCRIPTS), str(ctx.tree), str(ctx.tree / "tests")]),
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",
        MPLBACKEND="Agg",
        NUMBA_CACHE_DIR=str(work / "tmp" / "numba"),
        HOSTILE_FIXTURES=str(ctx.fixtures),
        HOSTILE_WORK=str(work),
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v != "<unset>"}


def _classify_exit(rc: int, stderr: str) -> tuple[str, str]:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return "crash", f"killed by {name}{_fatal_line(stderr)}"
    if rc in (134, 139) or "Fatal Python error" in stderr or "GGML_ASSERT" in stderr:
        return "crash", f"exit status {rc}{_fatal_line(stderr)}"
    if "Traceback (most recent call last)" in stderr:
        return "traceback", "uncaught: " + _last_line(stderr)
    return "crash", f"exit status {rc} without a result{_fatal_line(stderr)}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _fatal_line(stderr: str) -> str:
    for marker in ("GGML_ASSERT", "Fatal Python error", "terminate called", "std::bad_alloc",
                   "Segmentation fault", "Aborted"):
        for line in stderr.splitlines():
            if marker in line:
                return f": {line.strip()[:200]}"
    return ""


def run_group(ctx: Context, probes: list[Probe]) -> list[Result]:
    """Run probes (one, or a batch sharing settings) in child processes until each has a result."""
    results: list[Result] = []
    pending = list(probes)
    while pending:
        done, pending = _run_child(ctx, pending)
        results.extend(done)
    return results


def _run_child(ctx: Context, probes: list[Probe]) -> tuple[list[Result], list[Probe]]:
    first = probes[0]
    work = ctx.new_workdir(first.name if len(probes) == 1 else f"batch-{first.batch}")
    if any(p.seed_default_model for p in probes):
        _seed_default_model(ctx, work / "cache")
    spec = {
        "secret": ctx.secret,
        "probes": [{"name": p.name, "func": p.func, "params": p.params} for p in probes],
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    guards = {g: _file_state(work / g) for p in probes for g in p.guard}
    cmd = [ctx.python, "-m", "hostile.child", str(spec_path)]
    if first.drop_dac and shutil.which("setpriv"):
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    env = child_env(ctx, work, first.env)
    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_preexec(first.mem_mb),
    )
    by_name = {p.name: p for p in probes}
    results: dict[str, Result] = {}
    current: str | None = None
    started = time.monotonic()
    current_start = started
    stdout_buf = b""
    stderr_chunks: list[bytes] = []
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    timed_out = False
    open_streams = 2
    stderr_size = 0
    while open_streams:
        limit = by_name[current].timeout if current else 60.0
        remaining = current_start + limit - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            if key.data == "err":
                if stderr_size < 4 * 2**20:  # keep the first 4 MiB of logs
                    stderr_chunks.append(data)
                stderr_size += len(data)
                continue
            stdout_buf += data
            while b"\n" in stdout_buf:
                line, stdout_buf = stdout_buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith("@@START "):
                    current = text[len("@@START ") :]
                    current_start = time.monotonic()
                elif text.startswith("@@RESULT "):
                    payload = text[len("@@RESULT ") :]
                    result = _parse_result(payload, by_name, current_start, ctx.secret)
                    results[result.name] = result
                    current = None
                    current_start = time.monotonic()
    if timed_out:
        with _suppress():
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with _suppress():
            os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
    # Grandchildren (CLI runs, lock holders) must not outlive the probe.
    with _suppress():
        os.killpg(proc.pid, signal.SIGKILL)
    stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
    leftovers: list[Probe] = []
    if current is not None and current not in results:
        p = by_name[current]
        if timed_out:
            outcome, detail = "hang", f"no result after {p.timeout:.0f} s"
        else:
            outcome, detail = _classify_exit(rc, stderr)
        results[current] = Result(
            p.name, p.kind, p.area, outcome, detail, time.monotonic() - current_start
        )
    for p in probes:
        if p.name not in results:
            if current is None and not timed_out and not results and rc != 0:
                # The child died before it started any probe: charge the first one.
                outcome, detail = _classify_exit(rc, stderr)
                results[p.name] = Result(p.name, p.kind, p.area, outcome, detail, 0.0)
            elif current is None and not timed_out and rc == 0:
                results[p.name] = Result(
                    p.name, p.kind, p.area, "traceback", "the child exited without a result", 0.0
                )
            else:
                leftovers.append(p)
    # Keys in the child's stderr (logs, warnings printed by the library): charge every probe
    # of the child, since stderr is shared.
    where = find_leak(stderr, ctx.secret)
    if where:
        for name, res in results.items():
            if OUTCOMES.index(res.outcome) > OUTCOMES.index("leak"):
                results[name] = Result(
                    res.name, res.kind, res.area, "leak", f"{where} on stderr", res.seconds
                )
    _check_files(work, probes, results, guards)
    if not ctx.keep and all(r.outcome == "clean" for r in results.values()):
        shutil.rmtree(work, ignore_errors=True)
    elif ctx.verbose:
        (work / "stderr.txt").write_text(stderr)
    elif not ctx.keep:
        (work / "stderr.txt").write_text(stderr[-20000:])
    return list(results.values()), leftovers


def _parse_result(
    payload: str, by_name: dict[str, Probe], started: float, secret: str
) -> Result:
    data = json.loads(payload)
    p = by_name[data["name"]]
    outcome, detail = data["outcome"], data.get("detail", "")
    where = find_leak(payload, secret)
    if where and OUTCOMES.index(outcome) > OUTCOMES.index("leak"):
        outcome, detail = "leak", f"{where} in what the library showed: {_redact(detail, secret)}"
    elif where:
        detail = _redact(detail, secret)
    return Result(
        p.name,
        p.kind,
        p.area,
        outcome,
        detail[:400],
        time.monotonic() - started,
        clean_error=bool(data.get("error")),
    )


def _redact(text: str, secret: str) -> str:
    """The report itself must not show the key either."""
    core = secret_core(secret)
    out = []
    i = 0
    low, needle = text.lower(), core.lower()
    while True:
        j = low.find(needle, i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j] + "<KEY>")
        i = j + len(core)
    result = "".join(out)
    for form in leak_forms(secret)[1]:
        result = result.replace(form, "<KEY-B64>")
    return result


def _check_files(
    work: Path, probes: list[Probe], results: dict[str, Result], guards: dict[str, Any]
) -> None:
    """Guarded files must be byte-identical, and no cache may have been set aside."""
    for p in probes:
        res = results.get(p.name)
        if res is None or res.outcome in ("crash", "hang", "data_loss"):
            continue
        problem = None
        for g in p.guard:
            before, after = guards.get(g), _file_state(work / g)
            if before is not None and after != before:
                problem = f"{g} was {'removed' if after is None else 'changed'}"
        if not p.corrupt_ok:
            aside = sorted(x.name for x in (work / "cache").glob("*.corrupt*"))
            if aside:
                problem = f"the cache was moved aside as {aside[0]} ({len(aside)} file(s))"
        if problem:
            results[p.name] = Result(
                res.name, res.kind, res.area, "data_loss", problem, res.seconds
            )


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (OSError, ProcessLookupError))  # type: ignore[arg-type]


def run_all(
    ctx: Context,
    probes: list[Probe],
    jobs: int,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run every probe, ``jobs`` children at a time; batched probes share children."""
    groups: list[list[Probe]] = []
    batches: dict[str, list[Probe]] = {}
    for p in probes:
        if p.batch:
            batches.setdefault(p.batch, []).append(p)
        else:
            groups.append([p])
    for members in batches.values():
        for start in range(0, len(members), 12):
            groups.append(members[start : start + 12])
    # Long probes first, so the tail of the run is not one slow child.
    groups.sort(key=lambda g: -sum(p.timeout for p in g) if g[0].timeout >= 45 else 0)
    results: list[Result] = []
    lock = threading.Lock()

    def one(group: list[Probe]) -> None:
        out = run_group(ctx, group)
        with lock:
            results.extend(out)
            if progress:
                for r in out:
                    progress(r)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, groups))
    order = {p.name: i for i, p in enumerate(probes)}
    results.sort(key=lambda r: order.get(r.name, 0))
    return results


# --------------------------------------------------------------------------------------------
# Reporting


def table(results: Iterable[Result]) -> str:
    """The Must-show table: one row per kind, the issue's columns, and a total row."""
    rows: dict[str, dict[str, int]] = {k: dict.fromkeys(COLUMNS, 0) for k in KINDS}
    for r in results:
        row = rows[r.kind]
        row["tried"] += 1
        row[_COLUMN_OF[r.outcome]] += 1
    total = {c: sum(rows[k][c] for k in KINDS) for c in COLUMNS}
    head = ["kind", *COLUMNS]
    body = [[KINDS[k], *(str(rows[k][c]) for c in COLUMNS)] for k in KINDS]
    body.append(["**total**", *(f"**{total[c]}**" for c in COLUMNS)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def non_clean(results: Iterable[Result]) -> str:
    """Every probe that did not come out clean, grouped by the area that must fix it."""
    bad = [r for r in results if r.outcome != "clean"]
    if not bad:
        return "Every probe came out clean."
    out = []
    for area, title in AREAS.items():
        mine = [r for r in bad if r.area == area]
        if not mine:
            continue
        out.append(f"\n### {title} ({len(mine)})\n")
        for r in sorted(mine, key=lambda r: (OUTCOMES.index(r.outcome), r.name)):
            out.append(f"- **{r.outcome}** `{r.name}`: {r.detail}")
    return "\n".join(out)


def dump_json(results: Iterable[Result], path: Path, meta: dict[str, Any]) -> None:
    path.write_text(
        json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=1)
    )
