"""Texts per second: the in-kernel engine against a tuned llama-server on the same GGUF, and the
remote backend's own overhead over raw HTTP calls to that server.

Same model, same threads, same real short texts, one run of this script; the servers are
started here on 127.0.0.1 one at a time, so they never compete with the engine for the cores.
Needs the binaries of ``scripts/build_llama_server.py``.

    python bench/remote.py [--texts 2500] [--threads 2] [--model PATH] [--sweep]
"""

from __future__ import annotations

import base64
import http.client
import importlib.metadata
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from _common import best_seconds, corpus, model_path, parser

# (label, llama-server arguments, serve the engine's f32 copy). The first is the "tuned"
# setting. The engine upcasts f16 weights to f32 on the CPU, so the server gets that copy too.
SERVER_CONFIGS = [
    ("-np 32 -ub 256 -fa on", ["-np", "32", "-ub", "256", "-b", "256", "-fa", "on"], False),
    ("-np 32 -ub 256 -fa on, f32", ["-np", "32", "-ub", "256", "-b", "256", "-fa", "on"], True),
    ("-np 8 -ub 512 -fa on", ["-np", "8", "-ub", "512", "-b", "512", "-fa", "on"], False),
    ("-np 8 -ub 512 -fa on, f32", ["-np", "8", "-ub", "512", "-b", "512", "-fa", "on"], True),
    ("-np 32 -ub 512 -fa off", ["-np", "32", "-ub", "512", "-b", "512", "-fa", "off"], False),
    ("-np 4 -ub 1024 -fa on", ["-np", "4", "-ub", "1024", "-b", "1024", "-fa", "on"], False),
]
# (concurrency, batch_size) of the client, for --sweep.
CLIENT_CONFIGS = [(8, 32), (4, 64), (16, 16), (2, 128)]


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def llama_server_binary() -> Path:
    from embed_nb.paths import cache_dir

    explicit = os.environ.get("EMBED_NB_LLAMA_BIN_DIR")
    version = importlib.metadata.version("llama-cpp-python")
    directory = Path(explicit) if explicit else cache_dir() / "llama.cpp" / version
    binary = directory / "llama-server"
    if not binary.is_file():
        raise SystemExit(f"{binary} not found: run python scripts/build_llama_server.py first")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(model: str, threads: int, args: list[str]) -> Iterator[str]:
    """A llama-server on a free local port for the duration of the block; yields its URL."""
    port = free_port()
    command = [
        str(llama_server_binary()), "-m", model, "--host", "127.0.0.1", "--port", str(port),
        "--embeddings", "--no-webui", "-t", str(threads), "-tb", str(threads), *args,
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, process, log)
            yield url
        finally:
            process.terminate()
            process.wait(30)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: object) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)  # type: ignore[attr-defined]
            raise SystemExit(f"llama-server exited:\n{log.read().decode()[-3000:]}")  # type: ignore[attr-defined]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("llama-server did not become healthy in 120 s")


def raw_http(url: str, texts: list[str], concurrency: int, batch: int) -> Callable[[], np.ndarray]:
    """The baseline a user could write by hand: the same requests with bare http.client."""
    host, port = url.removeprefix("http://").split(":")
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    pool = ThreadPoolExecutor(concurrency)
    connections: dict[int, http.client.HTTPConnection] = {}

    def send(chunk: list[str]) -> list[np.ndarray]:
        import threading

        conn = connections.setdefault(
            threading.get_ident(), http.client.HTTPConnection(host, int(port), timeout=600)
        )
        body = json.dumps({"input": chunk, "encoding_format": "base64", "embd_normalize": 2})
        conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
        data = json.loads(conn.getresponse().read())["data"]
        data.sort(key=lambda d: d["index"])
        return [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data]

    def run() -> np.ndarray:
        # New connections each run: the server drops idle keep-alive ones after 5 s, and a
        # hand-written client would not retry.
        for conn in connections.values():
            conn.close()
        connections.clear()
        return np.stack([v for part in pool.map(send, chunks) for v in part])

    return run


def main() -> None:
    p = parser(__doc__ or "")
    p.set_defaults(threads=2)
    p.add_argument("--sweep", action="store_true", help="also sweep the client's concurrency")
    args = p.parse_args()
    path, texts = model_path(args.model), corpus(args.texts)

    from embed_nb.engine import LocalModel
    from embed_nb.engine.remote import RemoteModel

    print(f"{len(texts)} texts, {args.threads} threads, model {path}")
    print(f"load average before: {load()}")
    rows: list[tuple[str, float]] = []

    with LocalModel(path, n_threads=args.threads) as engine:
        engine.embed(texts[:50])  # warm up
        reference = np.asarray(engine.embed(texts))
        rows.append(
            ("in-kernel engine (defaults)", best_seconds(lambda: engine.embed(texts), args.repeat))
        )
    ours = rows[0][1]

    overheads: list[tuple[str, float, float]] = []
    for label, server_args, f32 in SERVER_CONFIGS:
        served_path = _engine_f32_copy(path) if f32 else path
        with llama_server(served_path, args.threads, server_args) as url:
            with RemoteModel(url) as remote:
                remote.embed(texts[:50])  # warm up the server and the connections
                served = np.asarray(remote.embed(texts))
                raw = raw_http(url, texts, remote.concurrency, _batch(remote, len(texts)))
                raw()
                # Alternate the two, so that drift in the machine's load hits both alike.
                seconds, raw_seconds = float("inf"), float("inf")
                for _ in range(args.repeat):
                    seconds = min(seconds, best_seconds(lambda: remote.embed(texts), 1))
                    raw_seconds = min(raw_seconds, best_seconds(raw, 1))
                rows.append((f"llama-server {label} via RemoteModel", seconds))
                overheads.append((label, seconds, raw_seconds))
                if args.sweep:
                    for conc, batch in CLIENT_CONFIGS:
                        with RemoteModel(url, concurrency=conc, batch_size=batch) as tuned:
                            s = best_seconds(lambda: tuned.embed(texts), args.repeat)
                        rows.append((f"  ... client concurrency={conc} batch={batch}", s))
            diff = float(np.abs(served - reference).max())
            print(f"[{label}] max |server - engine| = {diff:.1e} (L2-normalised)")

    print(f"\n{'contender':<58} {'texts/s':>9} {'engine / it':>12}")
    for label, seconds in rows:
        print(f"{label:<58} {len(texts) / seconds:>9.0f} {seconds / ours:>11.2f}x")
    best_server = min(s for label, s in rows[1:] if not label.startswith("  "))
    print(
        f"\nin-kernel engine vs the best server setting: {best_server / ours:.2f}x the throughput"
    )
    print("\nRemoteModel overhead over raw http.client calls (same requests, same concurrency):")
    for label, seconds, raw_seconds in overheads:
        print(
            f"  {label:<28} RemoteModel {seconds:.3f} s, raw {raw_seconds:.3f} s: "
            f"{100 * (seconds / raw_seconds - 1):+.1f}%"
        )
    print(f"load average after: {load()}")


def _engine_f32_copy(path: str) -> str:
    """The f32 copy of the weights that the engine itself loads on the CPU."""
    from embed_nb.engine.model import file_fingerprint
    from embed_nb.engine.weight_copy import weight_copy

    copy = weight_copy(Path(path), file_fingerprint(Path(path)), "f32").path
    return str(copy or path)


def _batch(remote: object, n: int) -> int:
    """The request size RemoteModel uses for n texts, so the baseline sends the same requests."""
    batches = remote._batches(n)  # type: ignore[attr-defined]
    return int(batches[0].stop - batches[0].start)


if __name__ == "__main__":
    main()
