"""Remote probes: a hostile FAKE llama-server (hostile.fakeserver) on 127.0.0.1, API keys in
odd places, and environment keys offered to hosts that should not get them.

No probe connects anywhere but 127.0.0.1: the child confines its sockets first
(:func:`hostile.fakeserver.confine_to_loopback`); a connection to a TEST-NET address such as
192.0.2.1 is recorded and sent to the fake instead, which shows whether the key went with it.
"""

from __future__ import annotations

import resource
import time
from typing import Any

from .common import Env, Outcome, bad, check_vectors, ok
from .core import Probe

TEXTS = ["alpha text", "beta text", "gamma text"]

# behaviour -> (kind of finding, what a clean outcome is: "error" or "result")
# "dim3": every answer, the load-time probe's too, has 3 values while /v1/models says 8.
# llama-server's meta n_embd is the model's hidden size, and a model with an output
# projection (llama_model_n_embd_out) returns another size, so consistent 3-value answers are
# a valid result; answers that disagree with each other ("mixed-dims") are not.
ANSWERS = {
    "nan": "error", "inf": "error", "huge": "either", "dim3": "either", "mixed-dims": "error",
    "nested": "error", "empty-vector": "error", "empty-list": "error", "float-strings": "error",
    "bools": "error", "b64-bad": "error", "b64-misaligned": "error", "null-vector": "error",
    "index-oob": "error", "index-dup": "error", "index-neg": "error", "index-str": "error",
    "index-missing": "either", "index-swapped": "result", "data-short": "error",
    "data-long": "error", "redirect-302": "error", "redirect-301": "error",
    "redirect-307": "error", "neg-tokens": "error", "tokens-str": "either",
    "tokens-huge": "error", "data-not-list": "error", "body-list": "error", "non-json": "error",
    "empty-body": "error", "json-nan-literal": "either", "truncated-body": "error",
}
ECHOES = ["echo-400", "echo-400-upper", "echo-400-urlenc", "echo-400-b64", "echo-400-bare",
          "echo-500", "echo-503", "echo-401", "echo-400-text", "echo-400-reason",
          "echo-discovery", "echo-discovery-upper", "echo-models", "echo-models-b64"]
SHOWN = ["models-key-id", "props-key-path", "props-key-build"]
BAD_PROPS: list[Any] = [
    "not json", "[]", "null", '"text"', {"total_slots": "many"}, {"total_slots": -5},
    {"total_slots": 10**30}, {"total_slots": 1.5}, {"default_generation_settings": []},
    {"default_generation_settings": {"n_ctx": "x"}}, {"default_generation_settings":
    {"n_ctx": -1}}, {"model_path": 123}, {"model_path": ["a"]}, {"build_info": {"a": 1}},
    {"total_slots": None, "model_path": None},
]
BAD_MODELS: list[Any] = [
    "not json", "[]", {"data": "x"}, {"data": [1, 2]}, {"data": [{"id": None}]},
    {"data": [{"id": 5, "meta": []}]}, {"data": [{"id": "m", "meta": {"n_embd": "x"}}]},
    {"data": [{"id": "m", "meta": {"n_embd": -1}}]},
    {"data": [{"id": "m", "meta": {"n_embd": 10**30}}]},
    {"data": [{"id": "m", "meta": {"n_ctx": "big", "n_ctx_train": -4}}]},
    {"data": [{"id": "m", "meta": {"n_embd": 0}}]}, {"data": [{"id": "a"}, {"id": "b"}]},
    {"data": []}, {"data": [{"id": "x" * 100000}]},
]


def probes(quick: bool) -> list[Probe]:
    out: list[Probe] = []

    def add(name: str, kind: str, params: dict[str, Any], **kw: Any) -> None:
        out.append(Probe(f"remote {name}", kind, "remote", "p_remote:remote_case", params,
                         timeout=kw.pop("timeout", 40), mem_mb=kw.pop("mem_mb", 3072), **kw))

    answers = ANSWERS if not quick else {k: ANSWERS[k] for k in ("nan", "dim3", "index-dup",
                                                                "redirect-302", "neg-tokens")}
    for behaviour, expect in answers.items():
        for kind in (("llama-server", "openai") if not quick else ("llama-server",)):
            add(f"{kind} answers {behaviour}", "wrong",
                {"behaviour": behaviour, "expect": expect, "kind": kind, "cache": True})
    for behaviour in ["rank-nan", "rank-index-oob", "rank-index-dup", "rank-missing",
                      "rank-score-str"]:
        add(f"reranker answers {behaviour}", "wrong", {"behaviour": behaviour, "expect": "error",
                                                        "rerank": True})
    for behaviour in ["none-ragged", "none-empty", "none-flat"]:
        add(f"pooling-none server answers {behaviour}", "wrong",
            {"behaviour": behaviour, "expect": "error"})
    for behaviour in ECHOES if not quick else ECHOES[:4]:
        add(f"server echoes the key ({behaviour})", "keys",
            {"behaviour": behaviour, "expect": "error"}, timeout=60)
    for behaviour in SHOWN:
        add(f"server shows the key ({behaviour})", "keys",
            {"behaviour": behaviour, "expect": "either", "magic_list": True})
    for i, props in enumerate(BAD_PROPS if not quick else BAD_PROPS[:4]):
        add(f"malformed /props #{i} {str(props)[:30]}", "tracebacks",
            {"behaviour": "", "props": props, "expect": "either"})
    for i, models in enumerate(BAD_MODELS if not quick else BAD_MODELS[:4]):
        add(f"malformed /v1/models #{i} {str(models)[:30]}", "tracebacks",
            {"behaviour": "", "models": models, "expect": "either"})
    for key in ["{K}\r\nX-Injected: 1", "{K}\n", "\r{K}", "{K}\x00", "{K}\u20ac", "{K} \t",
                "Bearer {K}", "{K}\x7f"]:
        add(f"api_key {key.replace('{K}', 'KEY')!r}", "keys",
            {"behaviour": "", "api_key": key, "expect": "either"})
    for url in ["{U}/?api_key={K}", "{U}/?key={K}&x=1", "{U}/v1?token={K}", "{U}/#{K}",
                "http://user:{K}@{H}", "http://{K}@{H}", "{U}/{K}/"]:
        add(f"key in the URL {url.replace('{K}', 'KEY')}", "keys",
            {"behaviour": "", "url": url, "expect": "either"})
    for var in ("EMBED_NB_API_KEY", "LLAMA_API_KEY", "OPENAI_API_KEY"):
        for url, kind in (("http://192.0.2.1:8080", "llama-server"),
                          ("http://192.0.2.1:8080/v1", "openai"),
                          ("http://10.255.255.1:9", "llama-server"),
                          ("http://192.0.2.1", "llama-server")):
            if var == "OPENAI_API_KEY" and kind != "openai":
                continue
            if var == "LLAMA_API_KEY" and kind == "openai":
                continue
            add(f"${var} offered to {url} ({kind})", "keys",
                {"behaviour": "", "env_key": var, "url": url, "kind": kind, "expect": "either",
                 "no_key_sent": True})
        add(f"${var} to a loopback URL is still sent (control)", "keys",
            {"behaviour": "", "env_key": var, "kind": "openai" if var == "OPENAI_API_KEY"
             else "llama-server", "expect": "result", "key_sent": True})
    add("a byte every 0.5 s, timeout=2 (embed)", "hangs",
        {"behaviour": "drip", "expect": "error", "timeout": 2, "deadline": 8}, timeout=60)
    add("a byte every 0.5 s, timeout=2 (discovery)", "hangs",
        {"behaviour": "drip-props", "expect": "error", "timeout": 2, "deadline": 8}, timeout=60)
    add("no answer at all, timeout=2", "hangs",
        {"behaviour": "stall", "expect": "error", "timeout": 2, "deadline": 8}, timeout=60)
    add("503 with Retry-After 3600, retries=2", "hangs",
        {"behaviour": "retry-after-forever", "expect": "error", "retries": 2, "deadline": 15},
        timeout=60)
    add("a 600 MB body", "hangs",
        {"behaviour": "big-body", "expect": "error", "max_rss_mb": 400}, timeout=90,
        mem_mb=1536)
    for kind in ("llama-server", "openai"):
        out.append(Probe(f"remote two servers with the same /props share no cache ({kind})",
                         "wrong", "remote", "p_remote:two_servers", {"kind": kind}, timeout=40))
    return out


# --------------------------------------------------------------------------------------------
# Child side


def _server(p: dict[str, Any], env: Env, **kw: Any) -> Any:
    from .fakeserver import FakeServer, confine_to_loopback

    props, models = p.get("props"), p.get("models")
    server = FakeServer(p.get("behaviour", ""), env.secret, kind=p.get("kind", "llama-server"),
                        props=props, models=models, **kw)
    confine_to_loopback(server.port)
    return server


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def remote_case(p: dict[str, Any], env: Env) -> Outcome:
    """Connect to the fake, embed (or rerank) three texts, and judge the answer."""
    import os

    import numpy as np

    import embed_nb

    from .fakeserver import ATTEMPTS, truth

    server = _server(p, env)
    key = p.get("api_key", "{K}").replace("{K}", env.secret)
    url = p.get("url", server.url)
    url = url.replace("{U}", server.url).replace("{H}", f"127.0.0.1:{server.port}")
    url = url.replace("{K}", env.secret)
    options: dict[str, Any] = {"timeout": p.get("timeout", 10), "retries": p.get("retries", 0),
                               "backoff": 0.05, "connect_timeout": 2}
    if p.get("kind", "llama-server") != "llama-server":
        options["kind"] = p["kind"]
    if "env_key" in p:
        os.environ[p["env_key"]] = env.secret
    else:
        options["api_key"] = key
    started = time.monotonic()
    rss_before = _rss_mb()
    try:
        model = embed_nb.load_model(url, **options)
        env.show(repr(model), repr(model.info), str(model.info), str(model.name),
                 str(getattr(model, "url", "")), str(getattr(model, "model_id", "")))
        if p.get("magic_list"):
            env.show(_magic_list(model))
        if p.get("rerank"):
            result = model.rerank("query", ["doc one", "doc two", "doc three"])
            env.show(repr(result))
            values = np.array([h.score for h in result], dtype=float)
            if len(values) != 3 or not np.isfinite(values).all():
                return bad("wrong", f"accepted rerank scores {values}")
            if p["expect"] == "error":
                return bad("wrong", f"accepted a reranker answering {p['behaviour']}")
            return ok()
        embedded = embed_nb.embed(TEXTS, model=model, cache=p.get("cache", False))
        env.show(repr(embedded))
    finally:
        elapsed = time.monotonic() - started
        if "deadline" in p and elapsed > p["deadline"]:
            # Reported below unless an exception is on its way; then this wins.
            _late(p, elapsed)
        if "max_rss_mb" in p and _rss_mb() - rss_before > p["max_rss_mb"]:
            _big(p, _rss_mb() - rss_before)
        sent = [a for a in server.auth_seen if a]
        if p.get("no_key_sent") and any(env.secret in a for a in sent):
            _sent(p, ATTEMPTS)
        server.close()
    if p.get("key_sent") and not any(env.secret in a for a in server.auth_seen):
        return bad("wrong", "an environment key was not sent to a loopback server")
    vectors = np.asarray(embedded)
    check = check_vectors(vectors, 3, None)
    if p["expect"] == "error":
        return bad("wrong", f"accepted an answer with {p['behaviour']}: "
                   f"{check.detail if check.outcome != 'clean' else 'returned vectors'}")
    if check.outcome != "clean":
        return check
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        return bad("wrong", f"normalize=2, but the rows' norms are {np.round(norms, 3).tolist()}")
    want = np.stack([truth(t) for t in TEXTS])
    if p["behaviour"] == "huge":  # the server sent 3e38 in every place of TEXTS[0]'s vector
        want[0] = 1 / np.sqrt(want.shape[1])
    if not np.allclose(vectors, want, atol=1e-5):
        return bad("wrong", "the vectors are not the server's, in order")
    return ok(f"result in {elapsed:.1f} s")


class _Finding(Exception):
    """Raised from a ``finally`` to replace the probe's outcome."""


def _late(p: dict[str, Any], elapsed: float) -> None:
    raise _Verdict("hang", f"the call took {elapsed:.1f} s (timeout {p.get('timeout')} s)")


def _big(p: dict[str, Any], grew: float) -> None:
    raise _Verdict("hang", f"memory grew by {grew:.0f} MB reading a 600 MB body")


def _sent(p: dict[str, Any], attempts: list[str]) -> None:
    where = ", ".join(sorted(set(attempts))) or "?"
    raise _Verdict("leak", f"${p['env_key']} was sent over plain http to {where}")


class _Verdict(Exception):
    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


def _magic_list(model: Any) -> str:
    """What ``%embed_model list`` and ``info`` print with this model registered."""
    import contextlib
    import io

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "embed_nb")
    shell.user_ns["m"] = model
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        from embed_nb import registry

        with contextlib.suppress(Exception):
            registry.REGISTRY.add(model, name="remote") if hasattr(registry.REGISTRY, "add") \
                else None
        shell.run_line_magic("embed_model", "list")
        with contextlib.suppress(Exception):
            shell.run_line_magic("embed_model", "info")
    return buf.getvalue()


def two_servers(p: dict[str, Any], env: Env) -> Outcome:
    """Two fakes with identical discovery but different vectors, one cache: each server's
    vectors must come back from it, not from the other's cache entries."""
    import numpy as np

    import embed_nb

    from .fakeserver import truth

    a = _server({"kind": p["kind"]}, env)
    b = _server({"kind": p["kind"]}, env, salt="other")
    opts: dict[str, Any] = {"retries": 0, "api_key": env.secret}
    if p["kind"] != "llama-server":
        opts["kind"] = p["kind"]
    ma = embed_nb.load_model(a.url, **opts)
    mb = embed_nb.load_model(b.url, **opts)
    embed_nb.embed(TEXTS, model=ma, cache=True)
    got = np.asarray(embed_nb.embed(TEXTS, model=mb, cache=True))
    want = np.stack([truth(t, salt="other") for t in TEXTS])
    if not np.allclose(got, want, atol=1e-5):
        return bad("wrong", "the second server's texts came back with the first server's "
                   f"vectors (fingerprints {ma.fingerprint} / {mb.fingerprint})")
    return ok()
