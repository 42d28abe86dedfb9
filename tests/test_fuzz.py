"""Fuzzing the front ends (issue 9): random magic lines and random API options.

Seeded and bounded: the same 800 cases every run, in about 20 s on tiny models.
Each case may succeed or fail, but a failure must be a clean one-line error: a ``UsageError``
in the shell (that is how an ``EmbedNbError`` shows there), an ``EmbedNbError`` from the API.
Any other exception, a multi-line message, or a shell left broken (``get_ipython``,
``__builtins__``) fails the test, which lists every offending case with its seed position.

Network: no case reaches a real server. The only URLs are 127.0.0.1 on a port nobody listens
on (or malformed ones), and the Hugging Face hub is switched offline.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from ports import free_port

from embed_nb import api, cache, magics, registry
from embed_nb.engine import LocalModel
from embed_nb.errors import EmbedNbError
from embed_nb.registry import ModelRegistry

# Another seed explores other cases: EMBED_NB_FUZZ_SEED=123 pytest tests/test_fuzz.py
SEED = int(os.environ.get("EMBED_NB_FUZZ_SEED", "9"))
N_LINES = 400
N_CALLS = 400

DOCS = ["the cat sits on the mat", "a dog eats food", "python code and data", "the moon"]

# What the front ends are fed: numbers at and past every bound, odd text, paths and URLs.
NUMBERS = ["0", "1", "-1", "2", "3", "-2", "10**400", "9" * 30, "-" + "9" * 20, "2147483648",
           "1e9", "nan", "inf", "-inf", "2.5", "0x10"]  # fmt: skip
TEXTS = ["café", "日本語のテキスト", "🙂 emoji", "\x00", "a\x00b", '"', "'", '"unbalanced',
         "'open", '""', "''", "\\", "--", "-", "{docs}", "$docs", "{1/0}", "$nope", "a b c",
         "\ud800", "the cat", "x" * 3000, "<script>alert(1)</script>", "\t", "%embed"]  # fmt: skip
VARIABLES = ["docs", "e", "num", "df", "df.text", "empty", "long", "arr", "nan_arr", "str_arr",
             "labels", "obj_arr", "flat", "nope", "__builtins__", "get_ipython", "In", "_",
             "print", "1x", "a.b.c", "docs.nope"]  # fmt: skip
LOAD_VALUES = ["0", "1", "2", "-1", "-5", "64", "2.5", "x", "mean", "cls", "rank", "none", "avg",
               "9" * 25]  # fmt: skip
GOOD_VARIABLES = ["docs", "e", "df.text", "arr", "labels"]
WORDS = ["pca", "umap", "mean", "cls", "none", "rank", "last", "info", "clear", "load", "list",
         "use", "unload", "bert-mean", "rr", "tok"]  # fmt: skip


def _parser_options(parser: Any) -> list[tuple[str, bool]]:
    """``(option string, takes a value)`` for every option of one of the magics' parsers."""
    return [
        (option, action.nargs != 0)
        for action in parser._actions
        for option in action.option_strings
    ]


LINE_PARSERS = {
    "embed": magics._EMBED_LINE,
    "rerank": magics._RERANK_LINE,
    "embed_search": magics._SEARCH,
    "embed_sim": magics._SIM,
    "embed_map": magics._MAP,
}
CELL_PARSERS = {"embed": magics._EMBED_CELL, "rerank": magics._RERANK_CELL}


class LineMaker:
    """Random magic lines from the real magic and option names."""

    def __init__(self, rng: random.Random, paths: dict[str, str]) -> None:
        self.rng = rng
        self.paths = paths
        port = free_port()  # bound, then closed: nothing listens there
        self.urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/v1", "http://[::1",
                     "http://127.0.0.1:99999", f"ftp://127.0.0.1:{port}", "http://"]  # fmt: skip
        self.url_loads = 0

    def value(self) -> str:
        rng = self.rng
        pool = rng.choice([NUMBERS, TEXTS, VARIABLES, WORDS, list(self.paths.values())])
        token = rng.choice(pool)
        if rng.random() < 0.05:
            token = rng.choice(self.urls)
        if rng.random() < 0.2:
            quote = rng.choice(['"', "'"])
            token = quote + token + (quote if rng.random() < 0.8 else "")
        return token

    def options(self, parser: Any) -> list[str]:
        rng = self.rng
        words: list[str] = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            option, takes_value = rng.choice(_parser_options(parser))
            words.append(option)
            if takes_value and rng.random() < 0.9:
                words.append(self.value())
        return words

    def source(self) -> str:
        """A model source for %embed_model load: tiny models, bad paths, closed-port URLs."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.35:
            return rng.choice([self.paths["mean"], self.paths["reranker"], self.paths["none"]])
        if kind < 0.45 and self.url_loads < 4:  # each costs the client's retries
            self.url_loads += 1
            return rng.choice(self.urls)
        return rng.choice(["/nonexistent/x.gguf", "/tmp", "/dev/null", self.paths["not_gguf"],
                           "", "''", '"a b"', "\x00", "café.gguf", "docs", "http://[::1",
                           "http://127.0.0.1:99999"])  # fmt: skip

    def line(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.12:
            return self.model_line()
        if kind < 0.16:
            return "%embed_cache " + rng.choice(["info", "clear", "", "drop", "info extra"])
        if kind < 0.28:
            name = rng.choice(list(CELL_PARSERS))
            head = " ".join(self.options(CELL_PARSERS[name]))
            if name == "rerank":
                head += " " + rng.choice(TEXTS + WORDS)
            body = "\n".join(rng.choice(TEXTS + DOCS) for _ in range(rng.randint(0, 4)))
            return f"%%{name} {head}\n{body}"
        name = rng.choice(list(LINE_PARSERS))
        words = self.options(LINE_PARSERS[name])
        if rng.random() < 0.3:  # anything at all
            for _ in range(rng.randint(0, 3)):
                words.insert(rng.randint(0, len(words)), self.value())
            return f"%{name} " + " ".join(words)
        # Mostly well-formed, so that the random options reach the work behind the parser.
        variable = rng.choice(GOOD_VARIABLES) if rng.random() < 0.8 else rng.choice(VARIABLES)
        query = repr(rng.choice(DOCS + TEXTS[:3]))
        head = {
            "embed": [rng.choice(["-v", "--var"]), variable] if rng.random() < 0.5 else [],
            "rerank": [query, variable],
            "embed_search": [query, variable],
            "embed_sim": [variable] + ([rng.choice(GOOD_VARIABLES)] if rng.random() < 0.3 else []),
            "embed_map": [variable],
        }[name]
        tail = [repr(rng.choice(DOCS + TEXTS))] if name == "embed" and not head else []
        return f"%{name} " + " ".join(head + words + tail)

    def model_line(self) -> str:
        rng = self.rng
        action = rng.choice(["load", "load", "load", "list", "use", "info", "unload", "fly", ""])
        if action != "load":
            extra = " ".join(rng.choice(WORDS + VARIABLES) for _ in range(rng.randint(0, 2)))
            return f"%embed_model {action} {extra}"
        words = [self.source()]
        for _ in range(rng.randint(0, 3)):
            option, takes_value = rng.choice(_parser_options(magics._MODEL_LOAD))
            words.append(option)
            if takes_value:
                # Load options stay within what this shared machine can afford to try.
                words.append(rng.choice(LOAD_VALUES))
        return "%embed_model load " + " ".join(words)


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bert_mean_path: Path,
    bert_none_path: Path,
    reranker_path: Path,
) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(cache, "_CACHES", {})
    reg = ModelRegistry(default_source=str(bert_mean_path), notify=lambda message: None)
    monkeypatch.setattr(registry, "REGISTRY", reg)
    from embed_nb.widgets import ProjectionView

    # A map per fuzz line would start a UMAP (numba) run per line; PCA is what is tested here.
    monkeypatch.setattr(ProjectionView, "start_umap", lambda self: None)
    not_gguf = tmp_path / "not-a-model.gguf"
    not_gguf.write_bytes(b"GGUF but not really")
    yield {
        "mean": str(bert_mean_path),
        "none": str(bert_none_path),
        "reranker": str(reranker_path),
        "not_gguf": str(not_gguf),
    }
    reg.unload_all()


def _namespace(e: Any) -> dict[str, Any]:
    return {
        "docs": list(DOCS),
        "e": e,
        "num": 5,
        "df": pd.DataFrame({"text": DOCS, "n": range(len(DOCS))}),
        "empty": [],
        "long": [" ".join(["cat"] * 300)],
        "arr": np.random.default_rng(0).normal(size=(4, 6)),
        "nan_arr": np.full((3, 4), np.nan),
        "str_arr": np.array([["a", "b"], ["c", "d"]]),
        "labels": ["x", "y", "x", "y"],
        "obj_arr": np.array([1, "a", None], dtype=object),
        "flat": np.ones((4, 1)),
    }


def _is_clean(error: BaseException | None) -> bool:
    return error is None or (isinstance(error, UsageError) and "\n" not in str(error))


def test_random_magic_lines_give_results_or_one_line_errors(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "embed_nb")
    magic = ip.magics_manager.registry["EmbedMagics"]
    ip.run_line_magic("config", f"EmbedMagics.default_model = {environment['mean']!r}")
    ip.run_line_magic("config", "EmbedMagics.cache_dir = ''")
    e = api.embed(DOCS, model=registry.REGISTRY.get(None))
    builtins_before, get_ipython_before = ip.user_ns["__builtins__"], ip.user_ns["get_ipython"]
    maker = LineMaker(random.Random(SEED), environment)
    bad: list[str] = []
    outcomes = {"ok": 0, "error": 0}
    try:
        for number in range(N_LINES):
            if number % 25 == 0:  # back to known variables and the embedding model
                ip.user_ns.update(_namespace(e))
                if "bert-mean" in registry.REGISTRY:
                    registry.REGISTRY.use("bert-mean")
            line = maker.line()
            result = ip.run_cell(line, store_history=False)
            outcomes["ok" if result.success else "error"] += 1
            for error in (result.error_before_exec, result.error_in_exec):
                if not _is_clean(error):
                    bad.append(f"line {number}: {line!r} -> {type(error).__name__}: {error}")
            if ip.user_ns["__builtins__"] is not builtins_before:
                bad.append(f"line {number}: {line!r} replaced __builtins__")
                ip.user_ns["__builtins__"] = builtins_before
            if ip.user_ns["get_ipython"] is not get_ipython_before:
                bad.append(f"line {number}: {line!r} replaced get_ipython")
                ip.user_ns["get_ipython"] = get_ipython_before
    finally:
        for trait in ("normalize", "progress_threshold", "cache", "cache_dir", "default_model"):
            setattr(magic, trait, magic.traits()[trait].default_value)
        capsys.readouterr()
    assert not bad, "\n".join(bad)
    assert ip.run_cell("1 + 1", store_history=False).result == 2
    # The cases reach the work, not only the parsers: a fair share succeeds.
    assert outcomes["ok"] >= N_LINES // 10, outcomes


# --- the API -------------------------------------------------------------------------------


class CallMaker:
    """Random calls of the API functions with random option values."""

    def __init__(self, rng: random.Random, models: dict[str, Any], e: Any) -> None:
        self.rng = rng
        self.models = models
        self.e = e

    def pick(self, *choices: Any) -> Any:
        return self.rng.choice(choices)

    def either(self, good: Callable[[], Any], bad: Callable[[], Any]) -> Any:
        """Mostly a sensible value, sometimes a hostile one: so most calls get far enough
        for the next option to matter."""
        return bad() if self.rng.random() < 0.3 else good()

    def good_texts(self) -> Any:
        return self.pick(list(DOCS), "hello", pd.Series(DOCS), self.e, ["a", "b", "the cat"])

    def texts(self) -> Any:
        return self.pick(
            "hello", "", ["a", "b"], [], ["a", None], [1, 2], ["x" * 3000], "\ud800", "a\x00b",
            b"bytes", None, 5, np.array(["a", "b"]), np.ones((3, 4)), np.full((2, 3), np.nan),
            np.ones((2, 1)), np.array([[1, "a"]], dtype=object), pd.Series(DOCS),
            pd.DataFrame({"a": DOCS, "b": DOCS}), {"a": 1}, {"a"}, self.e, list(DOCS),
            ("a", "b"), np.array([True, False]), range(3), math.nan,
        )  # fmt: skip

    def model(self) -> Any:
        return self.pick(None, "nope", 123, b"x", self.models["mean"], self.models["reranker"],
                         self.models["none"], object(), "")  # fmt: skip

    def flag(self) -> Any:
        return self.pick(True, False, "yes", 1, None, np.bool_(True), math.nan)

    def number(self) -> Any:
        return self.pick(0, 1, 2, 3, -1, -2, 10**400, 2**63, 2.5, math.nan, math.inf, "2", None,
                         True, np.int64(2))  # fmt: skip

    def cache(self) -> Any:
        return self.pick(True, False, None, "x", 5)

    def call(self) -> tuple[str, Callable[[], Any]]:
        rng = self.rng
        name = rng.choice(["embed", "search", "similarity", "project", "rerank", "retrieve"])
        kwargs: dict[str, Any] = {}
        if rng.random() < 0.7:
            kwargs["model"] = self.either(lambda: self.models["mean"], self.model)
        if rng.random() < 0.5:
            kwargs["cache"] = self.cache()
        if name == "embed":
            args: tuple[Any, ...] = (self.either(self.good_texts, self.texts),)
            for option in ("normalize", "truncate", "chunk", "tokens", "column", "progress"):
                if rng.random() < 0.3:
                    kwargs[option] = {
                        "normalize": self.number,
                        "progress": self.number,
                        "column": lambda: self.pick(None, "a", "text", 5),
                    }.get(option, self.flag)()
        elif name in ("search", "retrieve"):
            query = self.either(lambda: "a dog", lambda: self.pick("", 5, None, "\ud800"))
            args = (query, self.either(self.good_texts, self.texts))
            if rng.random() < 0.5:
                args += (self.number(),)
            if name == "retrieve" and rng.random() < 0.3:
                kwargs["template"] = self.pick("{rank}", "{nope}", "{0}", None, "{document!r}")
        elif name == "similarity":
            args = (self.either(self.good_texts, self.texts),)
            if rng.random() < 0.5:
                args += (self.either(self.good_texts, self.texts),)
            if rng.random() < 0.3:
                kwargs["max_bytes"] = self.number()
        elif name == "project":
            args = (self.either(self.good_texts, self.texts),)
            if rng.random() < 0.4:
                args += (self.pick("pca", "PCA", None, 5, "tsne", ""),)
            for option in ("n_components", "random_state"):
                if rng.random() < 0.3:
                    kwargs[option] = self.number()
            if rng.random() < 0.3:
                kwargs["labels"] = self.pick(None, ["a", "b"], 5, "ab", {"a": 1}, list("abcd"))
        else:
            query = self.either(lambda: "a dog", lambda: self.pick("", 5, None))
            args = (query, self.either(self.good_texts, self.texts))
            if rng.random() < 0.4:
                kwargs["top_n"] = self.number()
            if rng.random() < 0.3:
                kwargs["truncate"] = self.flag()
        function = getattr(api, name)
        return f"{name}{_short(args)} {_short(kwargs)}", lambda: function(*args, **kwargs)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:157] + "..."


def test_random_api_options_give_results_or_clean_errors(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        LocalModel(environment["mean"]) as mean,
        LocalModel(environment["reranker"]) as reranker,
        LocalModel(environment["none"]) as none,
    ):
        e = api.embed(DOCS, model=mean, cache=False)
        maker = CallMaker(
            random.Random(SEED), {"mean": mean, "reranker": reranker, "none": none}, e
        )
        bad = []
        succeeded = 0
        for number in range(N_CALLS):
            described, call = maker.call()
            try:
                call()
                succeeded += 1
            except EmbedNbError as error:
                if "\n" in str(error):
                    bad.append(f"call {number}: {described} -> multi-line: {error!r}")
            except Exception as error:  # what the test is for: nothing else may escape
                bad.append(f"call {number}: {described} -> {type(error).__name__}: {error}")
        capsys.readouterr()
    assert not bad, "\n".join(bad)
    assert succeeded >= N_CALLS // 20, succeeded
