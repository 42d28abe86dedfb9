"""A FAKE llama-server for the hostile probes: it is not llama.cpp and serves no model.

It answers llama-server's discovery (``/props``, ``/v1/models``, the rerank and empty-input
probes) and its embedding endpoints with made-up vectors, and misbehaves on purpose in the way
its ``behaviour`` names: echoing the Authorization header, returning NaN or wrongly shaped
vectors, bad indexes, redirects, endless or enormous bodies. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import socket
import threading
import time
import urllib.parse
from typing import Any

import numpy as np

N_EMBD = 8
#: The text whose vector the "nan", "inf" and "huge" behaviours replace.
HUGE_TEXT = "alpha text"


def truth(text: str, n_embd: int = N_EMBD, salt: str = "") -> np.ndarray:
    """The fake's vector for ``text``: deterministic, unit length."""
    seed = int.from_bytes(hashlib.sha256((salt + text).encode("utf-8", "surrogatepass"))
                          .digest()[:8], "little")
    v = np.random.default_rng(seed).normal(size=n_embd).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _b64(v: Any) -> str:
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()


class FakeServer:
    """A FAKE, hostile llama-server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, behaviour: str = "", secret: str = "", *, salt: str = "",
                 kind: str = "llama-server", props: Any = None, models: Any = None) -> None:
        self.behaviour = behaviour
        self.secret = secret
        self.salt = salt
        self.kind = kind
        self.props = props
        self.models = models
        self.auth_seen: list[str] = []
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- answers --------------------------------------------------------------------------

    def _send(self, h: Any, status: int, body: bytes | str | Any, *,
              headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        h.send_response(status, reason)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _echo(self, auth: str) -> str:
        b = self.behaviour
        if "upper" in b:
            return auth.upper()
        if "urlenc" in b:
            return urllib.parse.quote(auth, safe="")
        if "b64" in b:
            return base64.b64encode(auth.encode()).decode()
        if "bare" in b:
            return auth.removeprefix("Bearer ")
        return auth

    def _handle(self, h: Any, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        auth = h.headers.get("Authorization", "")
        self.auth_seen.append(auth)
        path = urllib.parse.urlsplit(h.path).path
        self.paths.append(f"{method} {path}")
        b = self.behaviour
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = {}
        echo = self._echo(auth)
        if b.startswith("echo-discovery") and path == "/props":
            return self._send(h, 500, {"error": {"message": f"cannot serve {echo}"}})
        if b.startswith("echo-models") and path.endswith("/models"):
            return self._send(h, 403, {"error": {"message": f"key {echo} has no access"}})
        if b == "echo-401" and method == "POST":
            return self._send(h, 401, {"error": {"message": f"invalid api key {echo}"}})
        if path == "/props" and self.kind == "llama-server":
            return self._props(h, echo)
        if path.endswith("/models"):
            return self._models(h, echo)
        if path == "/v1/rerank":
            if b.startswith("rank-"):
                return self._rerank(h, payload)
            return self._send(h, 501, {"error": {"message": "no rerank", "code": 501}})
        if path == "/tokenize":
            return self._send(h, 200, {"tokens": [1, 2, 3]})
        if path in ("/v1/embeddings", "/embeddings") and payload.get("input") == []:
            if b.startswith("none-"):
                msg = "Pooling type 'none' is not OAI compatible. Please use a different pooling"
                return self._send(h, 400, {"error": {"message": msg}})
            return self._send(h, 400, {"error": {"message": '"input" must not be empty'}})
        if path in ("/v1/embeddings", "/embeddings"):
            return self._embeddings(h, payload, echo, path)
        return self._send(h, 404, {"error": {"message": "not found"}})

    def _props(self, h: Any, echo: str) -> None:
        b = self.behaviour
        props: Any = {"total_slots": 2, "model_path": "fake.gguf",
                      "default_generation_settings": {"n_ctx": 64}}
        if self.props is not None:
            props = self.props
        if b == "props-key-path":
            props["model_path"] = f"/models/{echo}.gguf"
        if b == "props-key-build":
            props["build_info"] = f"b1234-{echo}"
        if b == "drip-props":
            return self._drip(h)
        if isinstance(props, str):
            return self._send(h, 200, props.encode())
        return self._send(h, 200, props)

    def _models(self, h: Any, echo: str) -> None:
        meta = {"n_embd": N_EMBD, "n_ctx": 64, "n_vocab": 100, "n_ctx_train": 64}
        models: Any = {"data": [{"id": "fake", "meta": meta}]}
        if self.models is not None:
            models = self.models
        if self.behaviour == "models-key-id":
            models = {"data": [{"id": f"fake-{echo}", "meta": meta}]}
        if isinstance(models, str):
            return self._send(h, 200, models.encode())
        return self._send(h, 200, models)

    def _rerank(self, h: Any, payload: dict[str, Any]) -> None:
        docs = payload.get("documents") or []
        if not docs:
            return self._send(h, 400, {"error": {"message": '"documents" must not be empty'}})
        results: list[dict[str, Any]] = [
            {"index": i, "relevance_score": float(truth(d)[0])} for i, d in enumerate(docs)]
        b = self.behaviour
        if b == "rank-nan":
            results[0]["relevance_score"] = float("nan")
        elif b == "rank-index-oob":
            results[0]["index"] = len(docs) + 5
        elif b == "rank-index-dup":
            results[-1]["index"] = 0
        elif b == "rank-missing":
            results = results[:-1]
        elif b == "rank-score-str":
            results[0]["relevance_score"] = "high"
        return self._send(h, 200, json.dumps({"results": results}))

    def _embeddings(self, h: Any, payload: dict[str, Any], echo: str, path: str) -> None:
        b = self.behaviour
        inputs = payload.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        n = len(inputs)
        if b.startswith("echo-") and "discovery" not in b and "models" not in b:
            status = {"echo-500": 500, "echo-503": 503}.get(b.split("-upper")[0], 400)
            if "text" in b:
                return self._send(h, status, f"<html>bad token {echo}</html>")
            if "reason" in b:
                return self._send(h, 400, {"error": {"message": "no"}}, reason=f"Bad {echo}")
            return self._send(h, status, {"error": {"message": f"invalid key {echo}",
                                                    "type": "authentication_error"}})
        if b == "drip":
            return self._drip(h)
        if b == "big-body":
            return self._big(h)
        if b == "stall":
            time.sleep(60)
            return None
        if b == "retry-after-forever":
            return self._send(h, 503, {"error": {"message": "loading"}},
                              headers={"Retry-After": "3600"})
        if b.startswith("none-"):
            return self._token_vectors(h, inputs)
        vecs: list[Any] = [truth(t, salt=self.salt) for t in inputs]
        as_b64 = payload.get("encoding_format") == "base64"
        items: list[dict[str, Any]] = []
        for i, v in enumerate(vecs):
            emb: Any = _b64(v) if as_b64 else [float(x) for x in v]
            items.append({"object": "embedding", "index": i, "embedding": emb})
        usage: dict[str, Any] = {"prompt_tokens": 3 * n, "total_tokens": 3 * n}
        status, headers = 200, {}
        if b in ("nan", "inf", "huge"):
            value = {"nan": np.nan, "inf": np.inf, "huge": 3e38}[b]
            v = np.full(N_EMBD, value, dtype=np.float32)
            # The first text of the call (not of each request: a call may be split).
            at = next((i for i, t in enumerate(inputs) if t == HUGE_TEXT), 0 if b != "huge" else -1)
            if at >= 0:
                items[at]["embedding"] = _b64(v) if as_b64 else [float(x) for x in v]
        elif b == "dim3":
            items[0]["embedding"] = _b64(vecs[0][:3]) if as_b64 else [0.1, 0.2, 0.3]
            for it, v in zip(items[1:], vecs[1:], strict=False):
                it["embedding"] = _b64(v[:3]) if as_b64 else [float(x) for x in v[:3]]
        elif b == "mixed-dims":
            items[-1]["embedding"] = _b64(vecs[-1][:4]) if as_b64 else [0.5] * 4
        elif b == "nested":
            items[0]["embedding"] = [[float(x) for x in vecs[0]]]
        elif b == "empty-vector":
            items[0]["embedding"] = "" if as_b64 else []
        elif b == "empty-list":
            items[0]["embedding"] = []
        elif b == "float-strings":
            items[0]["embedding"] = [str(float(x)) for x in vecs[0]]
        elif b == "bools":
            items[0]["embedding"] = [True] * N_EMBD
        elif b == "b64-bad":
            items[0]["embedding"] = "!!!not base64!!!"
        elif b == "b64-misaligned":
            items[0]["embedding"] = base64.b64encode(b"\0" * (4 * N_EMBD - 1)).decode()
        elif b == "null-vector":
            items[0]["embedding"] = None
        elif b == "index-oob":
            items[0]["index"] = n + 5
        elif b == "index-dup":
            items[-1]["index"] = 0
        elif b == "index-neg":
            items[0]["index"] = -1
        elif b == "index-str":
            items[0]["index"] = "0"
        elif b == "index-missing":
            del items[0]["index"]
        elif b == "index-swapped":
            items[0]["index"], items[1]["index"] = 1, 0
            items[0], items[1] = items[1], items[0]
            items[0]["index"], items[1]["index"] = 1, 0  # now data order != index order
        elif b == "data-short":
            items = items[:-1]
        elif b == "data-long":
            items.append(dict(items[0], index=n))
        elif b in ("redirect-302", "redirect-301", "redirect-307"):
            status = int(b[-3:])
            headers = {"Location": f"{path}?moved=1"}
        elif b == "neg-tokens":
            usage = {"prompt_tokens": -5, "total_tokens": -5}
        elif b == "tokens-str":
            usage = {"prompt_tokens": "many", "total_tokens": "many"}
        elif b == "tokens-huge":
            usage = {"prompt_tokens": 10**30, "total_tokens": 10**30}
        body: Any = {"object": "list", "data": items, "usage": usage, "model": "fake"}
        if b == "data-not-list":
            body = {"object": "list", "data": {"0": items[0]}, "usage": usage}
        elif b == "body-list":
            body = [items]
        elif b == "non-json":
            return self._send(h, 200, "<html>hello</html>")
        elif b == "empty-body":
            return self._send(h, 200, b"")
        elif b == "json-nan-literal":
            body["usage"] = {"prompt_tokens": float("nan"), "total_tokens": float("nan")}
        elif b == "truncated-body":
            data = json.dumps(body).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data) + 500))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.close_connection = True
            return None
        return self._send(h, status, body, headers=headers)

    def _token_vectors(self, h: Any, inputs: list[Any]) -> None:
        b = self.behaviour
        out = []
        for i, t in enumerate(inputs):
            rows: list[Any] = [[float(x) for x in truth(f"{t}#{k}")] for k in range(3)]
            if b == "none-ragged" and i == 0:
                rows[1] = rows[1][:3]
            if b == "none-empty" and i == 0:
                rows = []
            if b == "none-flat" and i == 0:
                rows = rows[0]
            out.append({"index": i, "embedding": rows})
        return self._send(h, 200, out)

    def _drip(self, h: Any) -> None:
        """Headers at once, then one byte of body every 0.5 s, for 40 s."""
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "80")
        h.end_headers()
        h.wfile.flush()
        for _ in range(80):
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)

    def _big(self, h: Any) -> None:
        """A 600 MB body, streamed in 1 MiB pieces (this server never holds it)."""
        size = 600 * 10**6
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        head = b'{"data": [{"index": 0, "embedding": "'
        chunk = b"A" * 2**20
        try:
            h.wfile.write(head)
            sent = len(head)
            while sent + len(chunk) < size:
                h.wfile.write(chunk)
                sent += len(chunk)
            h.wfile.write(b"A" * (size - sent - 4) + b'"}]}')
        except OSError:
            return


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
LOOPBACK = ("127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1")
ATTEMPTS: list[str] = []


def confine_to_loopback(redirect_port: int | None) -> None:
    """No socket of this process may leave 127.0.0.1: a connection to any other address is
    recorded in :data:`ATTEMPTS` and sent to the fake on ``redirect_port`` instead (or refused
    when there is none)."""

    def target(address: Any) -> Any:
        if isinstance(address, tuple) and address and str(address[0]) not in LOOPBACK:
            ATTEMPTS.append(str(address[0]))
            if redirect_port is None:
                raise ConnectionRefusedError("hostile probes: no connection outside 127.0.0.1")
            return ("127.0.0.1", redirect_port)
        return address

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_INET6 and isinstance(address, tuple) and \
                str(address[0]) not in LOOPBACK:
            ATTEMPTS.append(str(address[0]))
            raise ConnectionRefusedError("hostile probes: no connection outside 127.0.0.1")
        return _real_connect(self, target(address))

    def connect_ex(self: socket.socket, address: Any) -> int:
        return _real_connect_ex(self, target(address))

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
