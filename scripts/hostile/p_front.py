"""Front-end probes: wrong-input API calls, magic lines in a real InteractiveShell, widgets,
CLI invocations and their outputs, and Ctrl-C during load_model."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from .common import Env, Outcome, bad, check_vectors, fixture, ok
from .core import Probe

# --------------------------------------------------------------------------------------------
# API calls: code run with m (tiny BERT, mean), mc (the same file, cls pooling), ml (tiny
# llama), r (tiny reranker), docs, e (docs embedded by m), np, pd, embed_nb. The snippet sets
# `result`; `expect` is "error" (a clean error is the only right answer), or a predicate on
# `result` as Python text.

API: list[tuple[str, str, str, str]] = [
    # (name, kind, code, expect)
    ("search with a reranker", "wrong", "result = embed_nb.search('q', docs, model=r)", "error"),
    ("similarity with a reranker", "wrong", "result = embed_nb.similarity(docs, model=r)",
     "error"),
    ("project with a reranker", "wrong", "result = embed_nb.project(docs, model=r)", "error"),
    ("retrieve with a reranker", "wrong", "result = embed_nb.retrieve('q', docs, model=r)",
     "error"),
    ("search a cls-pooled corpus with a mean-pooled query", "wrong",
     "c = embed_nb.embed(docs, model=mc, cache=False)\n"
     "result = embed_nb.search('q', c, model=m)", "error"),
    ("search a llama corpus with a BERT query", "wrong",
     "c = embed_nb.embed(docs, model=ml, cache=False)\n"
     "result = embed_nb.search('q', c, model=m)", "error"),
    ("search a truncated corpus with a strict query", "wrong",
     "c = embed_nb.embed(docs, model=m, truncate=True, cache=False)\n"
     "result = embed_nb.search('q', c, model=m)", "either"),
    ("search an array of the wrong width", "wrong",
     "result = embed_nb.search('q', np.ones((3, 7), np.float32), model=m)", "error"),
    ("search a NaN corpus", "wrong",
     "result = embed_nb.search('q', np.full((3, 32), np.nan, np.float32), model=m)", "error"),
    ("similarity of NaN vectors", "wrong",
     "result = embed_nb.similarity(np.full((3, 32), np.nan, np.float32))", "error"),
    ("similarity of zero vectors", "wrong",
     "result = embed_nb.similarity(np.zeros((3, 32), np.float32))",
     "np.isfinite(np.asarray(result.matrix)).all()"),
    ("similarity of a 1-D str array (texts)", "tracebacks",
     "result = embed_nb.similarity(np.array(['a', 'b']), model=m)",
     "np.asarray(result.matrix).shape == (2, 2)"),
    ("similarity of a 3-D array", "tracebacks",
     "result = embed_nb.similarity(np.ones((2, 3, 4), np.float32))", "error"),
    ("similarity of widths 32 and 7", "tracebacks",
     "result = embed_nb.similarity(np.ones((2, 32)), np.ones((2, 7)))", "error"),
    ("LocalModel.embed(DataFrame of two columns)", "wrong",
     "result = m.embed(pd.DataFrame({'text': docs, 'x': range(len(docs))}))", "error"),
    ("LocalModel.embed(DataFrame of one column)", "wrong",
     "result = m.embed(pd.DataFrame({'text': docs}))",
     "np.asarray(result).shape[0] == len(docs)"),
    ("LocalModel.embed(dict)", "wrong", "result = m.embed({'a': 1, 'b': 2})", "error"),
    ("LocalModel.embed(set)", "wrong", "result = m.embed({'a', 'b'})", "error"),
    ("LocalModel.embed(generator)", "tracebacks", "result = m.embed(x for x in docs)",
     "np.asarray(result).shape[0] == len(docs)"),
    ("LocalModel.embed(bytes)", "tracebacks", "result = m.embed(b'hello')", "error"),
    ("LocalModel.embed(5)", "tracebacks", "result = m.embed(5)", "error"),
    ("LocalModel.embed(None)", "tracebacks", "result = m.embed(None)", "error"),
    ("LocalModel.embed([None])", "tracebacks", "result = m.embed([None])", "error"),
    ("LocalModel.embed([['a']])", "tracebacks", "result = m.embed([['a']])", "error"),
    ("LocalModel.embed(2-D str array)", "tracebacks", "result = m.embed(np.array([['a', 'b']]))",
     "error"),
    ("LocalModel.embed(Series of ints)", "tracebacks", "result = m.embed(pd.Series([1, 2]))",
     "error"),
    ("LocalModel.embed([])", "tracebacks", "result = m.embed([])",
     "np.asarray(result).shape[0] == 0"),
    ("LocalModel.embed('\\ud800')", "tracebacks", "result = m.embed('\\ud800 x')",
     "np.isfinite(np.asarray(result)).all()"),
    ("embed(DataFrame of two columns)", "tracebacks",
     "result = embed_nb.embed(pd.DataFrame({'a': docs, 'b': docs}), model=m)", "error"),
    ("embed(df, column='missing')", "tracebacks",
     "result = embed_nb.embed(pd.DataFrame({'a': docs}), column='missing', model=m)", "error"),
    ("embed(normalize=10**400)", "tracebacks",
     "result = embed_nb.embed(docs, model=m, normalize=10**400)", "error"),
    ("embed(cache='yes')", "tracebacks", "result = embed_nb.embed(docs, model=m, cache='yes')",
     "error"),
    ("embed(model=5)", "tracebacks", "result = embed_nb.embed(docs, model=5)", "error"),
    ("embed(model='nope')", "tracebacks", "result = embed_nb.embed(docs, model='nope')", "error"),
    ("embed(progress='x')", "tracebacks",
     "result = embed_nb.embed(docs, model=m, progress='x')", "error"),
    ("project with NaN", "tracebacks",
     "x = np.asarray(e).copy(); x[0, 0] = np.nan\nresult = embed_nb.project(x)", "error"),
    ("project with inf", "tracebacks",
     "x = np.asarray(e).copy(); x[0, 0] = np.inf\nresult = embed_nb.project(x)", "error"),
    ("project method=None", "tracebacks", "result = embed_nb.project(e, method=None)", "error"),
    ("project method='tsne'", "tracebacks", "result = embed_nb.project(e, method='tsne')",
     "error"),
    ("project n_components=2.5", "tracebacks", "result = embed_nb.project(e, n_components=2.5)",
     "error"),
    ("project n_components=0", "tracebacks", "result = embed_nb.project(e, n_components=0)",
     "error"),
    ("project n_components=-1", "tracebacks", "result = embed_nb.project(e, n_components=-1)",
     "error"),
    ("project n_components=10**9", "tracebacks",
     "result = embed_nb.project(e, n_components=10**9)", "error"),
    ("project n_components='2'", "tracebacks", "result = embed_nb.project(e, n_components='2')",
     "error"),
    ("project one row", "tracebacks", "result = embed_nb.project(np.asarray(e)[:1])", "either"),
    ("project an empty array", "tracebacks",
     "result = embed_nb.project(np.zeros((0, 32), np.float32))", "error"),
    ("project labels of the wrong length", "tracebacks",
     "result = embed_nb.project(e, labels=['a'])", "error"),
    ("project labels=5", "tracebacks", "result = embed_nb.project(e, labels=5)", "error"),
    ("rerank top_n=0", "tracebacks", "result = embed_nb.rerank('q', docs, model=r, top_n=0)",
     "either"),
    ("rerank top_n=-1", "tracebacks", "result = embed_nb.rerank('q', docs, model=r, top_n=-1)",
     "error"),
    ("rerank top_n='3'", "tracebacks", "result = embed_nb.rerank('q', docs, model=r, top_n='3')",
     "error"),
    ("rerank documents=[]", "tracebacks", "result = embed_nb.rerank('q', [], model=r)", "either"),
    ("rerank with an embedding model (cosine)", "wrong",
     "result = embed_nb.rerank('q', docs, model=m)", "len(result) == len(docs)"),
    ("rerank with a pooling-none model", "wrong",
     "result = embed_nb.rerank('q', docs, model=embed_nb.load_model("
     "m.path, pooling='none', name='tok'))", "error"),
    ("rerank query=None", "tracebacks", "result = embed_nb.rerank(None, docs, model=r)", "error"),
    ("search k=0", "tracebacks", "result = embed_nb.search('q', docs, model=m, k=0)", "either"),
    ("search k=-1", "tracebacks", "result = embed_nb.search('q', docs, model=m, k=-1)", "error"),
    ("search k=2.5", "tracebacks", "result = embed_nb.search('q', docs, model=m, k=2.5)",
     "error"),
    ("search k=10**9", "tracebacks", "result = embed_nb.search('q', docs, model=m, k=10**9)",
     "len(result) == len(docs)"),
    ("search an empty corpus", "tracebacks", "result = embed_nb.search('q', [], model=m)",
     "either"),
    ("search query=5", "tracebacks", "result = embed_nb.search(5, docs, model=m)", "error"),
    ("retrieve template '{missing}'", "tracebacks",
     "result = embed_nb.retrieve('q', docs, model=m, template='{missing}')", "error"),
    ("retrieve template '{rank'", "tracebacks",
     "result = embed_nb.retrieve('q', docs, model=m, template='{rank')", "error"),
    ("retrieve sep=None", "tracebacks", "result = embed_nb.retrieve('q', docs, model=m, sep=None)",
     "error"),
]
BIG = [
    ("similarity 40k x 40k under a 3 GiB cap", "(40000, 384)", None),
    ("similarity 40k x 40k pair under a 3 GiB cap", "(40000, 384)", "(40000, 384)"),
    ("similarity 100k x 100k, d=8, under a 3 GiB cap", "(100000, 8)", None),
]

WIDGETS: list[tuple[str, str, str]] = [
    ("SimilarityMatrix(string array)", "w.SimilarityMatrix(np.array([['a', 'b'], ['c', 'd']]))",
     "error"),
    ("SimilarityMatrix(d=1)", "w.SimilarityMatrix(np.ones((4, 1), np.float32))", "error"),
    ("SimilarityMatrix(d=0)", "w.SimilarityMatrix(np.ones((4, 0), np.float32))", "error"),
    ("SimilarityMatrix(NaN)", "w.SimilarityMatrix(np.full((4, 8), np.nan, np.float32))",
     "error"),
    ("SimilarityMatrix(1-D)", "w.SimilarityMatrix(np.ones(8, np.float32))", "error"),
    ("SimilarityMatrix(object array)", "w.SimilarityMatrix(np.array([None, 1], dtype=object))",
     "error"),
    ("SimilarityMatrix(max_size=1)", "w.SimilarityMatrix(e, max_size=1)", "error"),
    ("SimilarityMatrix(max_size='5')", "w.SimilarityMatrix(e, max_size='5')", "error"),
    ("SimilarityMatrix(order='x')", "w.SimilarityMatrix(e, order='x')", "error"),
    ("SimilarityMatrix(labels wrong length)", "w.SimilarityMatrix(e, labels=['a'])", "error"),
    ("SimilarityMatrix(texts wrong length)", "w.SimilarityMatrix(np.asarray(e), texts=['a'])",
     "error"),
    ("ProjectionView(string array)", "w.ProjectionView(np.array([['a', 'b'], ['c', 'd']]), "
     "umap=False)", "error"),
    ("ProjectionView(d=1)", "w.ProjectionView(np.ones((4, 1), np.float32), umap=False)",
     "error"),
    ("ProjectionView(n_clusters=0)", "w.ProjectionView(e, n_clusters=0, umap=False, "
     "color_by='kmeans')", "error"),
    ("ProjectionView(n_clusters=-3)", "w.ProjectionView(e, n_clusters=-3, umap=False)", "error"),
    ("ProjectionView(n_clusters=10**6)", "w.ProjectionView(e, n_clusters=10**6, umap=False, "
     "color_by='kmeans')", "either"),
    ("ProjectionView(k=0)", "w.ProjectionView(e, k=0, umap=False)", "error"),
    ("ProjectionView(k=-1)", "w.ProjectionView(e, k=-1, umap=False)", "error"),
    ("ProjectionView(color_by='x')", "w.ProjectionView(e, color_by='x', umap=False)", "error"),
    ("ProjectionView(NaN)", "w.ProjectionView(np.full((4, 8), np.nan, np.float32), "
     "umap=False)", "error"),
    ("ProjectionView(one point)", "w.ProjectionView(np.ones((1, 8), np.float32), umap=False)",
     "either"),
    ("ProjectionView(no points)", "w.ProjectionView(np.ones((0, 8), np.float32), umap=False)",
     "error"),
    ("ProjectionView(labels=5)", "w.ProjectionView(e, labels=5, umap=False)", "error"),
    ("ProjectionView(umap_options=bad)", "w.ProjectionView(e, umap_options={'n_neighbors': -1})"
     "\nv = result; v.wait_for_umap(60)", "either"),
    ("RerankList(top_n=0)", "w.RerankList('q', docs, model=r, top_n=0)", "either"),
    ("RerankList(documents=5)", "w.RerankList('q', 5, model=r)", "error"),
    ("RerankList(embedding model)", "w.RerankList('q', docs, model=m)", "either"),
    ("RerankList(query=None)", "w.RerankList(None, docs, model=r)", "error"),
]


def probes(quick: bool) -> list[Probe]:
    out: list[Probe] = []
    for name, kind, code, expect in API if not quick else API[::4]:
        out.append(Probe(f"api {name}", kind, "front", "p_front:api_case",
                         {"code": code, "expect": expect}, batch="api", timeout=40))
    for name, a, b in BIG if not quick else BIG[:1]:
        code = (f"a = np.random.default_rng(0).normal(size={a}).astype(np.float32)\n"
                + (f"b = np.random.default_rng(1).normal(size={b}).astype(np.float32)\n"
                   if b else "b = None\n")
                + "result = embed_nb.similarity(a, b)")
        out.append(Probe(f"api {name}", "hangs", "front", "p_front:api_case",
                         {"code": code, "expect": "error", "light": True}, mem_mb=3072,
                         timeout=90))
    for name, code, expect in WIDGETS if not quick else WIDGETS[::4]:
        out.append(Probe(f"widget {name}", "tracebacks", "front", "p_front:api_case",
                         {"code": "result = " + code, "expect": expect, "widgets": True},
                         batch="widgets", timeout=60, mem_mb=None))
    for line, kind, check in _magic_lines(quick):
        out.append(Probe(f"magic {line[:70]!r}", kind, "front", "p_front:magic_case",
                         {"line": line, "check": check}, batch="magics", timeout=40,
                         mem_mb=None))
    for name, args, kind, expect in _cli_cases(quick):
        out.append(Probe(f"cli {name}", kind, "front", "p_front:cli_case",
                         {"args": args, "expect": expect}, timeout=60, batch="cli",
                         mem_mb=None, guard=["out/good.npy"] if "good" in expect else []))
    for seed in range(12 if not quick else 3):
        out.append(Probe(f"Ctrl-C during load_model (seed {seed}, 4 tries)", "wrong", "engine",
                         "p_front:sigint_load", {"seed": seed, "tries": 4}, timeout=120,
                         seed_default_model=True))
    return out


# --- magic lines ------------------------------------------------------------------------------

RESERVED = ["__builtins__", "get_ipython", "In", "Out", "_ih", "_oh", "_dh", "exit", "quit", "_",
            "__", "___", "_i", "_ii", "__name__", "_exit_code"]
BADNAMES = ["1abc", "a.b", "a-b", "''", "None", "True", "class", "print", "len", "embed_nb"]


def _magic_lines(quick: bool) -> list[tuple[str, str, str]]:
    lines: list[tuple[str, str, str]] = []
    for name in RESERVED if not quick else RESERVED[:3]:
        lines.append((f"%embed -o {name} hello", "wrong", "intact"))
    for name in BADNAMES if not quick else BADNAMES[:2]:
        lines.append((f"%embed -o {name} hello", "tracebacks", "intact"))
    for name in ("__builtins__", "get_ipython", "In"):
        lines.append((f"%embed_search q docs -o {name}", "wrong", "intact"))
        lines.append((f"%embed_sim e -o {name} --static", "wrong", "intact"))
    fixed = [
        "%embed_map e --labels num", "%embed_map e --labels missing", "%embed_map num",
        "%embed_map e --method tsne", "%embed_map e --labels docs --static",
        "%embed_model load http://[::1", "%embed_model load http://", "%embed_model load https://:0",
        "%embed_model load ''", "%embed_model load /dev/zero", "%embed_model load TINY --ctx -1",
        "%embed_model load TINY --threads 0", "%embed_model load TINY --ngl abc",
        "%embed_model load TINY --pooling foo", "%embed_model load TINY --ctx 99999999999999999999",
        "%embed_model load TINY --name ''", "%embed_model load TINY --name 'a b'",
        "%embed_model use nope", "%embed_model unload nope", "%embed_model info nope",
        "%embed_model frobnicate", "%embed_model", "%embed_model list extra",
        "%config EmbedMagics.normalize = 10**400", "%config EmbedMagics.normalize = -5",
        "%config EmbedMagics.normalize = 2.5", "%config EmbedMagics.normalize = 'x'",
        "%config EmbedMagics.normalize = None", "%config EmbedMagics.normalize = float('nan')",
        "%config EmbedMagics.cache_dir = 'a\\0b'\n%embed hello",
        "%config EmbedMagics.cache_dir = '/dev/null/x'\n%embed hello",
        "%config EmbedMagics.cache_dir = 5",
        "%config EmbedMagics.progress_threshold = -1\n%embed hello",
        "%config EmbedMagics.default_model = ''\n%embed_model unload tiny\n%embed hi",
        "%config EmbedMagics.default_model = 'http://[::1'\n%embed_model unload tiny\n%embed hi",
        "%embed -v num", "%embed -v df", "%embed -v df --column nope", "%embed -v missing",
        "%embed -v docs --column text", "%embed --normalize 99999999999999999999 hi",
        "%embed --normalize -7 hi", "%embed --truncate --chunk hi", "%embed", "%embed -m nope hi",
        "%embed --tokens -v docs", "%%embed\n", "%%embed --sep ''\na\nb", "%%embed -v docs\na",
        "%embed_search", "%embed_search q", "%embed_search q docs -k -1",
        "%embed_search q docs -k 0", "%embed_search q num", "%embed_search q docs --column x",
        "%embed_sim num", "%embed_sim e other", "%embed_sim e bad2d --static", "%embed_sim",
        "%rerank", "%rerank q num", "%rerank q docs --top-n -1", "%rerank q docs",
        "%%rerank q\n", "%embed_cache bogus", "%embed_cache", "%embed_cache clear extra",
        "%embed_map e -o __builtins__", "%embed hello \\", "%embed '", '%embed "unclosed',
    ]
    for line in fixed if not quick else fixed[::5]:
        kind = "wrong" if "-o " in line else "tracebacks"
        lines.append((line, kind, "intact"))
    rng = random.Random(9)
    words = ["%embed", "%embed_search", "%embed_sim", "%embed_map", "%embed_model", "%rerank",
             "%embed_cache", "-o", "-v", "-m", "-k", "--labels", "--column", "--normalize",
             "--top-n", "--sep", "--method", "--static", "--widget", "--truncate", "--chunk",
             "--tokens", "load", "use", "list", "info", "unload", "docs", "e", "num", "df", "''",
             "'", '"', "-1", "0", "2.5", "1e999", "nan", "\\x00", "é", "📎", "[::1", "http://",
             "-", "--", "=", "{", "$x", "TINY", "tiny", "__builtins__", "a.b"]
    for i in range(80 if not quick else 10):
        n = rng.randint(1, 6)
        line = " ".join([rng.choice(words[:7])] + [rng.choice(words) for _ in range(n)])
        lines.append((line, "tracebacks", "intact"))
        if i < 0:
            break
    seen: set[str] = set()
    unique = []
    for item in lines:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    return unique


# --- CLI ---------------------------------------------------------------------------------------

MANY = [x for i in range(200) for x in ("-p", f"text {i}")]


def _cli_cases(quick: bool) -> list[tuple[str, list[str], str, str]]:
    base = ["embed", "-m", "TINY", "-p", "hello", "-p", "world"]
    cases: list[tuple[str, list[str], str, str]] = [
        ("-o to a missing directory", [*base, "-o", "out/missing/x.npy"], "tracebacks", "error"),
        ("-o to a read-only directory", [*base, "-o", "out/ro/x.npy"], "tracebacks",
         "error,ro"),
        ("-o /dev/full", [*base, "-o", "/dev/full"], "tracebacks", "error"),
        ("-o a directory", [*base, "-o", "out"], "tracebacks", "error"),
        ("-o over a good file under ulimit -f", [*base, *MANY, "-o", "out/good.npy"], "lost",
         "error,good,fsize"),
        ("-o over a good file on /dev/full-like failure (file is a dir)",
         [*base, "-o", "out/good.npy/x"], "lost", "error,good"),
        ("-o over a good file, success", [*base, "-o", "out/good.npy"], "lost", "ok,newgood"),
        ("-f /dev/zero", ["embed", "-m", "TINY", "-f", "/dev/zero"], "hangs", "error,cap"),
        ("-f /dev/urandom", ["embed", "-m", "TINY", "-f", "/dev/urandom"], "hangs", "error,cap"),
        ("-f a missing file", ["embed", "-m", "TINY", "-f", "nope.txt"], "tracebacks", "error"),
        ("-f a directory", ["embed", "-m", "TINY", "-f", "out"], "tracebacks", "error"),
        ("-f a non-UTF-8 file", ["embed", "-m", "TINY", "-f", "out/latin1.txt"], "tracebacks",
         "error"),
        ("--embd-normalize 10**400", [*base, "--embd-normalize", "1" + "0" * 400], "tracebacks",
         "error"),
        ("--embd-normalize -5", [*base, "--embd-normalize", "-5"], "tracebacks", "error"),
        ("--embd-normalize 2.5", [*base, "--embd-normalize", "2.5"], "tracebacks", "error"),
        ("-c 10**30", [*base, "-c", "1" + "0" * 30], "tracebacks", "either"),
        ("-c -5", [*base, "-c", "-5"], "tracebacks", "either"),
        ("-t 10**6", [*base, "-t", "1000000"], "dies", "either"),
        ("-t 10**30", [*base, "-t", "1" + "0" * 30], "tracebacks", "either"),
        ("-ngl 10**30", [*base, "-ngl", "1" + "0" * 30], "tracebacks", "either"),
        ("-ngl -5", [*base, "-ngl", "-5"], "tracebacks", "either"),
        ("--pooling rank on an embedder", [*base, "--pooling", "rank"], "tracebacks", "either"),
        ("-m /dev/zero", ["embed", "-m", "/dev/zero", "-p", "x"], "tracebacks", "error"),
        ("-m ''", ["embed", "-m", "", "-p", "x"], "tracebacks", "error"),
        ("-m http://[::1", ["embed", "-m", "http://[::1", "-p", "x"], "tracebacks", "error"),
        ("-m http://127.0.0.1:1 -c 5", ["embed", "-m", "http://127.0.0.1:1", "-c", "5", "-p", "x"],
         "tracebacks", "error"),
        ("no text", ["embed", "-m", "TINY"], "tracebacks", "error"),
        ("--embd-separator ''", [*base, "--embd-separator", ""], "tracebacks", "either"),
        ("rerank without a model", ["rerank", "q", "a"], "tracebacks", "error"),
        ("rerank with an embedder (cosine)", ["rerank", "q", "a", "-m", "TINY"], "wrong",
         "either"),
        ("rerank --top-n -1", ["rerank", "q", "a", "-m", "RERANKER", "--top-n", "-1"],
         "tracebacks", "either"),
        ("info -m crafted vocab-repeat", ["info", "-m", "CRAFTED:bert-vocab-repeat"], "dies",
         "error"),
        ("unknown flag", ["embed", "--frobnicate"], "tracebacks", "error"),
        ("no command", [], "tracebacks", "error"),
        ("stdout closed early", [*base, "--embd-output-format", "json", "|head"], "tracebacks",
         "either"),
    ]
    return cases if not quick else cases[::3]


# --------------------------------------------------------------------------------------------
# Child side


def _namespace(env: Env, widgets: bool = False, light: bool = False) -> dict[str, Any]:
    import numpy as np

    import embed_nb

    ns: dict[str, Any] = {"np": np, "embed_nb": embed_nb}
    if light:
        return ns
    import pandas as pd

    tiny = fixture(env, "tiny:bert")
    m = embed_nb.load_model(tiny)
    docs = ["the cat sits on the mat", "a dog eats food", "python code and data",
            "the sun and the moon", "a big red car"]
    ns.update(pd=pd, m=m, docs=docs, e=embed_nb.embed(docs, model=m, cache=False),
              mc=embed_nb.load_model(tiny, pooling="cls", name="tiny-cls"),
              ml=embed_nb.load_model(fixture(env, "tiny:llama")),
              r=embed_nb.load_model(fixture(env, "tiny:reranker")))
    if widgets:
        import embed_nb.widgets as w

        ns["w"] = w
    return ns


def api_case(p: dict[str, Any], env: Env) -> Outcome:
    """Run an API snippet: a clean error where one is expected, else a checked result."""
    ns = _namespace(env, widgets=p.get("widgets", False), light=p.get("light", False))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        exec(p["code"], ns)
    printed = buf.getvalue()
    env.show(printed)
    if "Traceback (most recent call last)" in printed:
        return bad("traceback", "a traceback was printed: " + printed.strip().splitlines()[-1])
    result = ns.get("result")
    with contextlib.suppress(Exception):
        env.show(repr(result))
    expect = p["expect"]
    if expect == "error":
        return bad("wrong", f"returned {type(result).__name__} instead of refusing")
    if expect == "either":
        return ok(f"returned {type(result).__name__}")
    if not eval(expect, ns):
        return bad("wrong", f"the result fails {expect!r}")
    return ok()


def _shell(env: Env) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    tiny = fixture(env, "tiny:bert")
    setup = (
        "%load_ext embed_nb\n"
        f"%config EmbedMagics.default_model = {tiny!r}\n"
        "import numpy as np, pandas as pd, embed_nb\n"
        f"%embed_model load {tiny} --name tiny\n"
        "docs = ['the cat sits on the mat', 'a dog eats food', 'python code', 'sun and moon']\n"
        "num = 5\ndf = pd.DataFrame({'text': docs, 'n': range(4)})\n"
        "e = embed_nb.embed(docs)\nother = np.ones((3, 7), np.float32)\n"
        "bad2d = np.array([['a', 'b']])\n"
    )
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        res = shell.run_cell(setup, store_history=True)
    if not res.success:
        raise RuntimeError(f"magic setup failed: {res.error_in_exec!r} {buf.getvalue()[-300:]}")
    return shell


def _cell(shell: Any, code: str) -> tuple[Any, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        res = shell.run_cell(code, store_history=True)
    return res, buf.getvalue()


def magic_case(p: dict[str, Any], env: Env) -> Outcome:
    """Run magic lines in a fresh InteractiveShell; then the notebook must still work."""
    from IPython.core.error import UsageError

    shell = _shell(env)
    tiny = fixture(env, "tiny:bert")
    code = p["line"].replace("TINY", tiny)
    outcome = ok()
    for line in code.split("\n") if not code.startswith("%%") else [code]:
        res, printed = _cell(shell, line)
        env.show(printed)
        error = res.error_in_exec
        if "Traceback (most recent call last)" in printed or (
            error is not None and not isinstance(error, UsageError)
        ):
            last = printed.strip().splitlines()[-1] if printed.strip() else repr(error)
            outcome = bad("traceback", f"{type(error).__name__ if error else 'printed'}: "
                          f"{last[:200]}")
            break
        if error is not None:
            if "\n" in str(error).strip():
                outcome = bad("traceback", "a UsageError of several lines")
                break
            outcome = Outcome("clean", f"UsageError: {str(error)[:200]}", error=True)
    # The notebook must still work: builtins, get_ipython, In/Out, a magic, a plain cell.
    checks = [
        ("x_ = len([1, 2]) + int('3')", "builtins"),
        ("assert callable(get_ipython)", "get_ipython"),
        ("assert isinstance(In, list) and isinstance(Out, dict)", "In/Out"),
        ("%embed_cache info", "a magic"),
        ("%embed -o after_ hello", "%embed"),
    ]
    for check, what in checks:
        res, printed = _cell(shell, check)
        if not res.success:
            return bad("wrong", f"after it, {what} no longer works "
                       f"({type(res.error_in_exec).__name__}: {str(res.error_in_exec)[:100]})")
    del tiny
    return outcome


def cli_case(p: dict[str, Any], env: Env) -> Outcome:
    """Run ``python -m embed_nb.cli`` with hostile arguments and judge stderr, exit and files."""
    import numpy as np

    work = env.work
    (work / "out").mkdir(exist_ok=True)
    (work / "out" / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    ro = work / "out" / "ro"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    good = work / "out" / "good.npy"
    if not good.exists():
        np.save(good, np.arange(12, dtype=np.float32).reshape(3, 4))
    before = good.read_bytes()
    expect = set(p["expect"].split(","))
    args = [a.replace("TINY", fixture(env, "tiny:bert"))
            .replace("RERANKER", fixture(env, "tiny:reranker")) for a in p["args"]]
    args = [fixture(env, "crafted:" + a[8:]) if a.startswith("CRAFTED:") else a for a in args]
    pipe_head = "|head" in args
    args = [a for a in args if a != "|head"]
    cmd = [sys.executable, "-m", "embed_nb.cli", *args]

    def limits() -> None:
        import resource

        if "fsize" in expect:
            resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        if "cap" in expect:
            resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
        if "ro" in expect and os.geteuid() == 0:
            pass

    prefix: list[str] = []
    if "ro" in expect and os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    started = time.monotonic()
    try:
        if pipe_head:
            proc = subprocess.Popen(prefix + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=limits)
            assert proc.stdout is not None
            proc.stdout.read(10)
            proc.stdout.close()
            _, err_b = proc.communicate(timeout=40)
            rc, stderr = proc.returncode, err_b.decode("utf-8", "replace")
        else:
            done = subprocess.run(prefix + cmd, capture_output=True, timeout=40, preexec_fn=limits)
            rc, stderr = done.returncode, done.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return bad("hang", "the CLI ran past 40 s")
    took = time.monotonic() - started
    env.show(stderr)
    if rc < 0:
        return bad("crash", f"the CLI was killed by {signal.Signals(-rc).name}: "
                   f"{(stderr.strip().splitlines() or [''])[-1][:150]}")
    if "Traceback (most recent call last)" in stderr:
        return bad("traceback", "the CLI printed a traceback: "
                   + stderr.strip().splitlines()[-1][:200])
    lines = [x for x in stderr.strip().splitlines() if x.strip() and not x.startswith("usage:")]
    if "good" in expect and good.exists() and "newgood" not in expect and \
            good.read_bytes() != before:
        return bad("data_loss", "the existing good output file was changed by a failed write")
    if "good" in expect and not good.exists():
        return bad("data_loss", "the existing good output file is gone")
    if "newgood" in expect:
        if rc != 0:
            return bad("wrong", f"a plain -o failed: {lines[-1:]}")
        arr = np.load(good)
        return check_vectors(arr, 2, None)
    if "error" in expect:
        if rc == 0:
            return bad("wrong", "exit status 0 although the job could not be done")
        errors = [x for x in lines if "error" in x.lower()]
        if len(errors) != 1:
            return bad("traceback", f"{len(lines)} lines on stderr, not one clear error: "
                       f"{' | '.join(lines)[:200]}")
        return Outcome("clean", errors[0][:200], error=True)
    if rc != 0 and len(lines) > 1 and not any("error" in x for x in lines[-1:]):
        return bad("traceback", f"stderr: {' | '.join(lines)[:200]}")
    return Outcome("clean", f"rc {rc} in {took:.1f} s", error=rc != 0)


def sigint_load(p: dict[str, Any], env: Env) -> Outcome:
    """SIGINT at random moments during load_model: it must raise KeyboardInterrupt (or land
    after the load), never be swallowed; and a later load must work."""
    import embed_nb

    rng = random.Random(p["seed"])
    source = "all-minilm-l6-v2"
    t0 = time.monotonic()
    embed_nb.load_model(source).close()
    load_time = time.monotonic() - t0
    notes = []
    for _ in range(p["tries"]):
        fired = threading.Event()
        delay = rng.uniform(0, load_time * 1.2)

        def fire(ev: threading.Event = fired) -> None:
            ev.set()
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Timer(delay, fire)
        raised = False
        returned_at = None
        try:
            timer.start()
            model = embed_nb.load_model(source)
            returned_at = time.monotonic()
            fired_before = fired.is_set()
            try:
                time.sleep(0.3)  # a pending interrupt lands here
            except KeyboardInterrupt:
                raised = True
            model.close()
            if fired_before and not raised:
                return bad("wrong", f"a Ctrl-C {delay:.2f} s into load_model was swallowed")
        except KeyboardInterrupt:
            raised = True
        finally:
            timer.cancel()
        if not fired.is_set():
            time.sleep(0.01)
        notes.append("raised" if raised else "after")
        del returned_at
    model = embed_nb.load_model(source)
    check = check_vectors(model.embed("hello"), 1, None)
    if check.outcome != "clean":
        return check
    return ok(", ".join(notes))
