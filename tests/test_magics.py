"""The magics in a real IPython shell, on tiny GGUF models: every magic, flag and user error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import DOCS, configured, run

from embed_nb import api, cache, registry
from embed_nb.cache import CacheWarning
from embed_nb.engine import LocalModel
from embed_nb.results import (
    Embeddings,
    Projection,
    RerankResult,
    SearchResult,
    SimilarityMatrix,
)


@pytest.fixture
def ip(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bert_mean_path: Path,
) -> Iterator[InteractiveShell]:
    with configured(shell, tmp_path, monkeypatch, bert_mean_path) as configured_shell:
        yield configured_shell


def fails(ip: InteractiveShell, capsys: pytest.CaptureFixture[str], source: str) -> str:
    """Run a cell that must fail with one clear line (no traceback); return that line."""
    capsys.readouterr()
    result = ip.run_cell(source, store_history=False)
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    # IPython prints a UsageError as "UsageError: <message>" and nothing else.
    line = f"UsageError: {result.error_in_exec}"
    assert "\n" not in line
    err = capsys.readouterr().err
    # Now and then (in a full CI run, never alone) IPython's line bypasses capsys and lands in
    # pytest's global capture instead; so an empty capture is accepted, anything else is not.
    assert err.strip() in ("", line), err
    return line


# --- loading -------------------------------------------------------------------------------


def test_load_ext_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'embed_nb')\n"
        "assert 'embed' in ip.magics_manager.magics['line']\n"
        "heavy = ('numpy', 'llama_cpp', 'pandas', 'tqdm', 'plotly', 'umap', 'sklearn', 'gguf')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_magic_is_registered(shell: InteractiveShell) -> None:
    line = shell.magics_manager.magics["line"]
    cell = shell.magics_manager.magics["cell"]
    for name in ("embed", "rerank", "embed_search", "embed_sim", "embed_map", "embed_model"):
        assert name in line
    assert "embed_cache" in line and {"embed", "rerank"} <= set(cell)


def test_reload_ext_keeps_one_configurable(shell: InteractiveShell) -> None:
    shell.run_line_magic("reload_ext", "embed_nb")
    mine = [c for c in shell.configurables if type(c).__name__ == "EmbedMagics"]
    assert mine == [shell.magics_manager.registry["EmbedMagics"]]


# --- %embed --------------------------------------------------------------------------------


def test_first_embed_loads_the_default_and_says_so_once(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    first = run(ip, "%embed The cat sits on the mat")
    assert "loading the default model" in capsys.readouterr().out
    second = run(ip, "%embed The cat sits on the mat")
    assert "loading the default model" not in capsys.readouterr().out
    assert isinstance(first, Embeddings) and first.texts == ["The cat sits on the mat"]
    assert first.shape == (32,) and second.extra["cache_hits"] == 1
    assert registry.REGISTRY.current == "bert-mean"


def test_embed_text_is_the_rest_of_the_line_verbatim(ip: InteractiveShell) -> None:
    assert run(ip, "%embed   it's a   dog's life  ").texts == ["it's a   dog's life"]
    assert run(ip, '%embed "-5 degrees" -o v').texts == ["-5 degrees"]
    assert ip.user_ns["v"].texts == ["-5 degrees"]
    assert run(ip, "%embed -- --not a flag").texts == ["--not a flag"]
    assert run(ip, "%embed -5 degrees").texts == ["-5 degrees"]


def test_embed_line_expands_variables_the_ipython_way(ip: InteractiveShell) -> None:
    ip.user_ns["animal"] = "cat"
    assert run(ip, "%embed the {animal} sat").texts == ["the cat sat"]
    assert run(ip, "%embed the $animal sat").texts == ["the cat sat"]
    assert run(ip, "%embed costs $$5").texts == ["costs $5"]


def test_embed_variable_inputs(ip: InteractiveShell) -> None:
    ip.user_ns["one"] = "just one text"
    ip.user_ns["series"] = pd.Series(DOCS, index=list("abcd"))
    ip.user_ns["df"] = pd.DataFrame({"text": DOCS, "n": range(4)})
    assert run(ip, "%embed -v docs").shape == (4, 32)
    assert run(ip, "%embed -v one").shape == (32,)
    from_series = run(ip, "%embed -v series -o e")
    assert list(from_series.to_pandas().index) == list("abcd") and ip.user_ns["e"] is from_series
    from_column = run(ip, "%embed -v df --column text")
    np.testing.assert_array_equal(np.asarray(from_column), np.asarray(from_series))
    assert run(ip, "%embed -v df.text").texts == DOCS


def test_embed_flags(ip: InteractiveShell, bert_mean_path: Path) -> None:
    l1 = run(ip, "%embed --normalize 1 -v docs")
    np.testing.assert_allclose(np.abs(np.asarray(l1)).sum(axis=1), 1, atol=1e-5)
    ip.user_ns["long"] = [" ".join(["cat"] * 300)]
    truncated = run(ip, "%embed --truncate -v long")
    chunked = run(ip, "%embed --chunk -v long")
    assert truncated.truncate and truncated.token_counts == [128]
    assert chunked.chunk and chunked.token_counts[0] > 128
    tokens = run(ip, "%embed --tokens the cat")
    assert tokens.pooling == "none" and tokens.token_vectors[0].shape == (4, 32)
    run(ip, f"%embed_model load {bert_mean_path} --name other --pooling cls")
    run(ip, "%embed_model use bert-mean:none")  # the --tokens variant is a loaded model too
    assert run(ip, "%embed -m other the cat").pooling == "cls"


def test_config_sets_the_defaults(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], bert_cls_path: Path
) -> None:
    run(ip, "%config EmbedMagics.normalize = 1")
    np.testing.assert_allclose(
        np.abs(np.asarray(run(ip, "%embed -v docs"))).sum(axis=1), 1, atol=1e-5
    )
    run(ip, "%config EmbedMagics.progress_threshold = 3")
    capsys.readouterr()
    run(ip, "%embed --normalize 2 -v docs")
    assert "embedding" in capsys.readouterr().err
    run(ip, "%config EmbedMagics.cache = False")
    assert "cache_hits" not in run(ip, "%embed -v docs").extra
    run(ip, "%embed_cache info")
    assert "the cache is off" in capsys.readouterr().out
    ip.run_cell("%config EmbedMagics.normalize = -3")  # %config logs the refusal
    assert ip.magics_manager.registry["EmbedMagics"].normalize == 1


def test_default_model_config(ip: InteractiveShell, bert_cls_path: Path) -> None:
    run(ip, f"%config EmbedMagics.default_model = {str(bert_cls_path)!r}")
    assert run(ip, "%embed hello").pooling == "cls"


def test_cell_embed_one_text_per_line_or_sep_and_no_expansion(ip: InteractiveShell) -> None:
    ip.user_ns["animal"] = "cat"
    result = run(ip, "%%embed -o cells\nthe {animal} sat\n\n  costs $animal  \n")
    assert result.texts == ["the {animal} sat", "costs $animal"]
    assert ip.user_ns["cells"] is result
    parts = run(ip, "%%embed --sep '\\n\\n'\nfirst paragraph\nstill first\n\nsecond one\n")
    assert parts.texts == ["first paragraph\nstill first", "second one"]
    assert run(ip, "%%embed --sep ;\na; b ;c").texts == ["a", "b", "c"]


# --- %rerank -------------------------------------------------------------------------------


def test_rerank_with_a_reranker_and_with_an_embedding_model(
    ip: InteractiveShell, reranker_path: Path
) -> None:
    cosine = run(ip, "%rerank 'a pet on a mat' docs --top-n 2")
    assert isinstance(cosine, RerankResult) and cosine.method == "cosine" and len(cosine) == 2
    assert "not a reranker" in cosine._repr_html_()
    run(ip, f"%embed_model load {reranker_path} --name rr")
    ranked = run(ip, "%rerank 'a pet on a mat' docs -o r")
    assert ranked.method == "rank" and len(ranked) == 4 and ip.user_ns["r"] is ranked
    ip.user_ns["df"] = pd.DataFrame({"body": DOCS, "n": range(4)})
    assert run(ip, "%rerank 'a pet' df --column body").method == "rank"
    cell = run(ip, "%%rerank --top-n 3 -m rr a pet on a mat\n" + "\n".join(DOCS))
    assert cell.query == "a pet on a mat" and cell.documents == ranked.documents[:3]


def test_cell_rerank_takes_the_query_from_the_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "write the query" in fails(ip, capsys, "%%rerank --top-n 2\na\nb")


# --- %embed_search, %embed_sim, %embed_map -------------------------------------------------


def test_search_and_context(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    found = run(ip, "%embed_search 'a pet' docs -k 2 -o hits")
    assert isinstance(found, SearchResult) and len(found) == 2 and ip.user_ns["hits"] is found
    store = cache.get_cache(ip.magics_manager.registry["EmbedMagics"].cache_dir)
    misses = store.misses
    capsys.readouterr()
    context = run(ip, "%embed_search 'a pet' docs -k 2 --context")
    assert store.misses == misses  # corpus and query both came from the cache
    assert context == f"[1] {found[0].document}\n\n[2] {found[1].document}"
    assert "Search 'a pet'" in capsys.readouterr().out  # the hits are shown too
    ip.user_ns["df"] = pd.DataFrame({"body": DOCS, "n": range(4)})
    assert run(ip, "%embed_search 'a pet' df --column body -k 1").indices == found.indices[:1]
    ip.user_ns["E"] = run(ip, "%embed -v docs")
    assert run(ip, "%embed_search 'a pet' E -k 2").indices == found.indices


def test_similarity_and_map(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = run(ip, "%embed_sim docs --static -o S")
    assert isinstance(matrix, SimilarityMatrix) and matrix.shape == (4, 4)
    assert ip.user_ns["S"] is matrix
    ip.user_ns["E"] = run(ip, "%embed -v docs")
    ip.user_ns["Q"] = ["a pet"]
    assert run(ip, "%embed_sim Q E").shape == (1, 4)
    ip.user_ns["labels"] = ["w", "x", "y", "z"]
    capsys.readouterr()
    shown = run(ip, "%embed_map E --labels labels --static -o P")
    projection = ip.user_ns["P"]
    assert isinstance(projection, Projection) and projection.labels == ["w", "x", "y", "z"]
    if importlib.util.find_spec("plotly") is None:
        assert shown is projection and "plotly is not installed" in capsys.readouterr().out
    else:
        assert hasattr(shown, "to_dict")
    run(ip, "%embed_map docs --static -o P2")
    assert ip.user_ns["P2"].shape == (4, 2)


def test_sim_map_and_rerank_show_widgets(ip: InteractiveShell, reranker_path: Path) -> None:
    widgets = pytest.importorskip("embed_nb.widgets")
    from embed_nb.widgets._base import STATIC_DIR

    if not (STATIC_DIR / "similarity.js").is_file():
        pytest.skip("the widget bundle is not built (npm run build in js/)")
    matrix = run(ip, "%embed_sim docs -o S")
    assert isinstance(matrix, widgets.SimilarityMatrix) and ip.user_ns["S"] is matrix
    ip.user_ns["labels"] = ["w", "x", "y", "z"]
    view = run(ip, "%embed_map docs --labels labels")
    assert isinstance(view, widgets.ProjectionView)
    run(ip, f"%embed_model load {reranker_path} --name rr")
    ranked = run(ip, "%rerank 'a pet on a mat' docs --widget --top-n 2")
    assert isinstance(ranked, widgets.RerankList)


def test_sim_and_map_of_vectors_need_no_model(ip: InteractiveShell) -> None:
    ip.user_ns["V"] = np.eye(3)
    assert run(ip, "%embed_sim V --static").shape == (3, 3)
    run(ip, "%embed_sim V")
    run(ip, "%embed_map V --static -o P")
    run(ip, "%embed_map V")
    assert registry.REGISTRY.current is None


# --- %embed_model --------------------------------------------------------------------------


def test_model_management(
    ip: InteractiveShell,
    capsys: pytest.CaptureFixture[str],
    bert_mean_path: Path,
    reranker_path: Path,
) -> None:
    run(ip, "%embed_model list")
    assert "no models loaded" in capsys.readouterr().out
    run(ip, f"%embed_model load {bert_mean_path} --name m --ctx 64 --threads 1 --ngl 0")
    assert "loaded 'm'" in capsys.readouterr().out
    model = registry.REGISTRY.get("m")
    assert isinstance(model, LocalModel)
    assert (model.info.n_ctx, model.info.n_threads, model.info.n_gpu_layers) == (64, 1, 0)
    run(ip, f"%embed_model load {reranker_path} --name rr --pooling rank")
    run(ip, "%embed_model list")
    listing = capsys.readouterr().out
    assert "  m  (local, pooling mean" in listing and "* rr  (local, pooling rank" in listing
    run(ip, "%embed_model use m")
    assert "current model: 'm'" in capsys.readouterr().out
    run(ip, "%embed_model info")
    assert "context            64" in capsys.readouterr().out
    run(ip, "%embed_model info rr")
    assert "pooling            rank" in capsys.readouterr().out
    run(ip, "%embed_model unload m")
    assert "current model: 'rr'" in capsys.readouterr().out
    assert registry.REGISTRY.current == "rr" and model.closed


def test_model_load_takes_the_precision_and_info_shows_it(
    ip: InteractiveShell,
    capsys: pytest.CaptureFixture[str],
    bert_mean_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embed_nb.engine import native

    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "copies"))  # the bf16 copy
    run(ip, f"%embed_model load {bert_mean_path} --name f --precision fast")
    model = registry.REGISTRY.get("f")
    assert isinstance(model, LocalModel) and model.info.precision == "fast"
    capsys.readouterr()
    run(ip, "%embed_model info f")
    shown = capsys.readouterr().out
    expected = "fast (bf16 copy)" if native.cpu_has_bf16() else "fast = exact"
    assert f"precision          {expected}" in shown
    if not native.supports_gpu_offload():
        assert "backend            CPU on " in shown and ", 0 GPU layers" in shown
    line = fails(ip, capsys, f"%embed_model load {bert_mean_path} --precision quick")
    assert "invalid choice: 'quick'" in line


# --- %embed_cache and the cache file -------------------------------------------------------


def test_cache_info_and_clear(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "%embed -v docs")
    capsys.readouterr()
    run(ip, "%embed_cache info")
    info = capsys.readouterr().out
    assert "entries on disk  4" in info and "embeddings.sqlite" in info
    run(ip, "%embed_cache clear")
    assert "4 vectors removed" in capsys.readouterr().out
    assert run(ip, "%embed -v docs").extra["cache_hits"] == 0


def test_a_cache_file_truncated_to_half_is_rebuilt_and_embed_still_works(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.user_ns["many"] = [f"the cat number {i} sat on the mat" for i in range(300)]
    first = run(ip, "%embed -v many")
    store = cache.get_cache(tmp_path / "cache")
    store.close()
    path = tmp_path / "cache" / "embeddings.sqlite"
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    monkeypatch.setattr(cache, "_CACHES", {})  # a new kernel: nothing in memory
    with pytest.warns(CacheWarning, match="could not be read|damaged"):
        again = run(ip, "%embed -v many")
    assert again.extra["cache_hits"] == 0
    np.testing.assert_allclose(np.asarray(again), np.asarray(first), atol=1e-5)
    assert any(".corrupt-" in p.name for p in path.parent.iterdir())
    assert run(ip, "%embed -v many").extra["cache_hits"] == 300  # the rebuilt cache works


def test_an_interrupt_shows_one_line_and_keeps_finished_parts(
    ip: InteractiveShell,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    bert_mean: LocalModel,
) -> None:
    class Interrupting:
        """Forwards to a real model; the third engine call is interrupted."""

        kind = "test"

        def __init__(self) -> None:
            self.calls = 0

        def embed(self, texts: Any, **options: Any) -> Embeddings:
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return bert_mean.embed(texts, **options)

        def __getattr__(self, name: str) -> Any:
            return getattr(bert_mean, name)

        def close(self) -> None:
            """The registry's teardown must not close the session's shared model."""

    monkeypatch.setattr(api, "JOB_PART", 4)
    registry.REGISTRY.add(Interrupting(), name="flaky")  # type: ignore[arg-type]
    ip.user_ns["texts"] = [f"text number {i}" for i in range(20)]
    # The error itself, not captured stderr: where IPython prints it depends on which test
    # created the shared shell first.
    failed = ip.run_cell("%embed -v texts", store_history=False)
    assert isinstance(failed.error_in_exec, UsageError)
    line = str(failed.error_in_exec)
    assert "\n" not in line
    assert "interrupted after 8 of 20 texts" in line and "running it again continues" in line
    resumed = run(ip, "%embed -v texts")
    assert resumed.extra["cache_hits"] == 8 and resumed.shape == (20, 32)


# --- user errors: one line each ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("%embed --foo x", "unrecognized arguments: --foo"),
        ("%embed", "nothing to embed"),
        ("%embed -v missing_var", "no variable named 'missing_var'"),
        ("%embed -v number", "texts must be a str, a list of str"),
        ("%embed -v docs extra words", "either TEXT or -v VAR"),
        ("%embed --column text hello", "--column goes with -v"),
        ("%embed -v docs --column text", "needs a DataFrame"),
        ("%embed --truncate --chunk hello", "not allowed with argument"),
        ("%embed --normalize x hello", "invalid int value"),
        ("%embed --normalize -2 hello", "normalize=-2 is not valid"),
        ('%embed "the cat" sat', "unexpected 'sat' after the text"),
        ("%embed -o 1x hello", "-o '1x': choose another variable name"),
        ("%embed -m nope hello", "no model named 'nope' is loaded"),
        ("%embed -v docs.nope", "list has no 'nope'"),
        ("%embed -v 'a b'", "needs a variable name"),
        ("%embed -v long", "InputTooLongError: input 0 has"),
        ("%%embed --sep ;\n ; ;", "the cell holds no text"),
        ("%%embed hello\nx", "unrecognized arguments: hello"),
        ("%rerank 'unclosed docs", "No closing quotation"),
        ("%rerank 'q'", "the following arguments are required: documents"),
        ("%rerank 'q' docs --top-n -1", "top_n must be a non-negative integer"),
        ("%embed_search 'q' docs -k 0", "k must be a positive integer"),
        ("%embed_search 'q' number", "corpus must be a str"),
        ("%embed_sim docs number", "must be a str, a list of str"),
        ("%embed_map docs --method tsne", "invalid choice: 'tsne'"),
        ("%embed_map docs --labels short", "labels for 4 points"),
        ("%embed_map docs --labels word", "--labels needs a variable holding a list"),
        ("%embed_model", "say what to do"),
        ("%embed_model fly", "say what to do"),
        ("%embed_model load /no/such/model.gguf", "ModelNotFoundError: no model found"),
        ("%embed_model load docs.txt", "ModelNotFoundError"),
        ("%embed_model load x.gguf --pooling avg", "invalid choice: 'avg'"),
        ("%embed_model use nope", "no model named 'nope'"),
        ("%embed_model unload", "exactly one NAME"),
        ("%embed_model info a b", "at most one NAME"),
        ("%embed_model list extra", "takes no arguments"),
        ("%embed_cache", "use %embed_cache info or %embed_cache clear"),
        ("%embed_cache drop", "use %embed_cache info or %embed_cache clear"),
    ],
)
def test_user_errors_are_one_clear_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], source: str, expected: str
) -> None:
    ip.user_ns.update(
        number=42, long=[" ".join(["cat"] * 300)], short=["a"], word="w", docs=list(DOCS)
    )
    line = fails(ip, capsys, source)
    assert expected in line, line


def test_rerank_with_a_per_token_model_is_one_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], bert_none_path: Path
) -> None:
    run(ip, f"%embed_model load {bert_none_path} --name tok")
    assert "NotARerankerError" in fails(ip, capsys, "%rerank 'q' docs")


def test_a_file_that_is_not_a_model_is_one_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    assert "ModelLoadError" in fails(ip, capsys, f"%embed_model load {bogus}")


def test_html_output_of_magics_escapes_documents(ip: InteractiveShell) -> None:
    xss = "<script>alert(1)</script>"
    ip.user_ns["bad"] = [xss, "a cat"]
    for source in (
        "%embed -v bad",
        "%rerank 'q' bad",
        "%embed_search 'q' bad -k 2",
        "%embed_sim bad --static",
        "%embed_map bad --static -o P",
    ):
        value = run(ip, source)
        value = ip.user_ns["P"] if "embed_map" in source else value
        page = value._repr_html_()
        assert xss not in page and "&lt;script&gt;" in page, source


# --- the real default model ----------------------------------------------------------------


@pytest.mark.integration
def test_the_default_model_through_the_magics(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], default_model_path: Path
) -> None:
    from embed_nb.models import DEFAULT_MODEL

    run(ip, f"%config EmbedMagics.default_model = {DEFAULT_MODEL!r}")
    capsys.readouterr()
    vector = run(ip, "%embed The cat sits on the mat")
    assert f"loading the default model {DEFAULT_MODEL!r}" in capsys.readouterr().out
    assert vector.shape == (384,) and vector.model == DEFAULT_MODEL
    ip.user_ns["pets"] = ["A feline rests on the rug", "Python programming language"]
    ranked = run(ip, "%rerank 'The cat sits on the mat' pets")
    assert ranked.method == "cosine" and ranked[0].index == 0


# --- hostile lines (issue 9): names that would break the notebook, bad config, bad data ------


@pytest.mark.parametrize(
    "name",
    [
        "__builtins__",
        "__name__",
        "get_ipython",
        "exit",
        "quit",
        "In",
        "Out",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_i7",
        "_7",
        "_ih",
        "_oh",
        "_dh",
        "display",
        "print",
        "list",
        "open",
        "class",
        "None",
        "1x",
        "a.b",
        "a-b",
    ],
)
def test_out_names_that_would_break_the_notebook_are_refused(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    before = {key: ip.user_ns.get(key) for key in ("__builtins__", "get_ipython", "In", "_")}
    line = fails(ip, capsys, f"%embed -o {name} hello")
    assert f"-o {name!r}: choose another variable name" in line
    assert {key: ip.user_ns.get(key) for key in before} == before
    # Every magic that stores a result checks the name the same way, before doing any work.
    for source in (
        f"%rerank 'q' docs -o {name}",
        f"%embed_search 'q' docs -o {name}",
        f"%embed_sim docs --static -o {name}",
        f"%embed_map docs --static -o {name}",
        f"%%embed -o {name}\nhello",
        f"%%rerank -o {name} q\ndoc",
    ):
        assert "choose another variable name" in fails(ip, capsys, source)
    assert run(ip, "1 + 1") == 2  # the shell still works
    assert isinstance(run(ip, "%embed hi"), Embeddings)


def test_an_ordinary_name_is_still_fine(ip: InteractiveShell) -> None:
    run(ip, "%embed -o vectors_1 hello")
    run(ip, "%embed -o _private hello")
    run(ip, "%embed -o match hello")  # a soft keyword is a fine name
    assert ip.user_ns["vectors_1"].texts == ["hello"] and "match" in ip.user_ns


@pytest.mark.parametrize(
    ("value", "kept"),
    [("10**400", 3), ("-7", 3), ("2.5", 3), ("'x'", 3), ("None", 3), ("4", 4)],
)
def test_config_normalize_is_checked_on_assignment(
    ip: InteractiveShell, value: str, kept: int
) -> None:
    magics = ip.magics_manager.registry["EmbedMagics"]
    run(ip, "%config EmbedMagics.normalize = 3")
    ip.run_line_magic("config", f"EmbedMagics.normalize = {value}")  # logs one line if refused
    assert magics.normalize == kept
    assert isinstance(run(ip, "%embed hello"), Embeddings)


def test_config_values_set_from_python_are_one_line_errors(ip: InteractiveShell) -> None:
    magics = ip.magics_manager.registry["EmbedMagics"]
    with pytest.raises(UsageError, match="normalize"):
        magics.normalize = 10**400
    with pytest.raises(UsageError, match="NUL"):
        magics.cache_dir = "a\x00b"
    with pytest.raises(UsageError, match="default_model"):
        magics.default_model = "http://[::1"
    assert magics.normalize == 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("%embed_map e --labels num", "labels must be a list"),
        ("%embed_map e --labels num --static", "labels must be a list"),
        ("%embed_map e --labels short --static", "1 labels for 3 points"),
        ("%embed_map e --labels table", "labels must be a list"),
        ("%embed_map strings", "must be 1-D"),
        ("%embed_map nan --static", "NaN"),
        ("%embed_map nan", "NaN"),
        ("%embed_map flat --static", "1-dimensional"),
        ("%embed_sim nan", "NaN"),
        ("%embed_sim nan --static", "NaN"),
        ("%embed_sim flat e", "1-dimensional"),
        ("%embed_model load http://[::1", "http://[::1"),
        ("%embed_model load http://127.0.0.1:99999", "not a valid URL"),
        ("%embed --normalize 99999999999999999999999999 hi", "normalize"),
    ],
)
def test_bad_data_and_sources_are_one_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], source: str, expected: str
) -> None:
    ip.user_ns.update(
        e=np.eye(3, 4, dtype=np.float32),
        num=5,
        short=["a"],
        table={"a": 1},
        strings=np.array([["a", "b"], ["c", "d"]]),
        nan=np.full((3, 4), np.nan),
        flat=np.ones((3, 1)),
    )
    line = fails(ip, capsys, source)
    assert expected in line, line


def test_a_reranker_is_refused_by_the_comparing_magics(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], reranker_path: Path
) -> None:
    run(ip, f"%embed_model load {reranker_path} --name rr")
    for source in ("%embed_sim docs", "%embed_sim docs --static", "%embed_map docs",
                   "%embed_map docs --static", "%embed_search 'a dog' docs"):  # fmt: skip
        assert "reranker" in fails(ip, capsys, source)
    assert isinstance(run(ip, "%rerank 'a dog' docs"), RerankResult)


def test_what_the_user_typed_cannot_break_the_error_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    # A lone surrogate cannot even be printed; a NUL or a tab would garble the line.
    assert "\\ud800" in fails(ip, capsys, "%embed_map docs -- \ud800")
    assert "\\x00" in fails(ip, capsys, "%embed_search 'q' docs --bogus\x00")
    assert "\\t" in fails(ip, capsys, "%embed_sim docs -o 'a\tb'")


def test_allow_insecure_reaches_the_loader(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], bert_mean_path: Path
) -> None:
    # A local file takes no such option: the flag travels to load_model, which says so.
    line = fails(ip, capsys, f"%embed_model load {bert_mean_path} --allow-insecure")
    assert "allow_insecure" in line and "server URL" in line
