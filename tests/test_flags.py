"""The one flag table (embed_nb.flags): every spelling reaches the same option in
``%embed_model load`` and ``embed-nb``; the options dataclasses are what the models,
``load_model`` and the flags derive from; one Pooling type."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

import embed_nb
from embed_nb import flags, pooling
from embed_nb.cli import build_parser
from embed_nb.cli._parser import LOAD_OPTIONS as CLI_OPTIONS
from embed_nb.engine import LocalModel, RemoteModel
from embed_nb.engine.options import LocalOptions, option_names
from embed_nb.engine.remote._options import RemoteOptions
from embed_nb.errors import InvalidInputError
from embed_nb.magics import _MODEL_LOAD
from embed_nb.magics._parsers import LOAD_OPTIONS as MAGIC_OPTIONS

# (spelling, value typed, option, value the option gets)
SPELLINGS = [
    ("-c", "64", "n_ctx", 64),
    ("--n-ctx", "64", "n_ctx", 64),
    ("--ctx-size", "64", "n_ctx", 64),
    ("--ctx", "64", "n_ctx", 64),
    ("-t", "3", "n_threads", 3),
    ("--n-threads", "3", "n_threads", 3),
    ("--threads", "3", "n_threads", 3),
    ("-ngl", "7", "n_gpu_layers", 7),
    ("-ngl", "all", "n_gpu_layers", -1),
    ("--n-gpu-layers", "0", "n_gpu_layers", 0),
    ("--gpu-layers", "-1", "n_gpu_layers", -1),
    ("--ngl", "2", "n_gpu_layers", 2),
    ("-fa", "off", "flash_attn", "off"),
    ("--flash-attn", "on", "flash_attn", "on"),
    ("-ub", "128", "n_ubatch", 128),
    ("--n-ubatch", "128", "n_ubatch", 128),
    ("--ubatch-size", "128", "n_ubatch", 128),
    ("--batch-tokens", "64", "batch_tokens", 64),
    ("--n-contexts", "2", "n_contexts", 2),
    ("--precision", "fast", "precision", "fast"),
    ("--precision", "exact", "precision", "exact"),
]


def _magic(*words: str) -> dict[str, Any]:
    return flags.given_options(_MODEL_LOAD.parse(["model.gguf", *words]), MAGIC_OPTIONS)


def _cli(*words: str) -> dict[str, Any]:
    return flags.given_options(build_parser().parse_args(["info", *words]), CLI_OPTIONS)


@pytest.mark.parametrize(("spelling", "typed", "option", "value"), SPELLINGS)
def test_every_spelling_reaches_the_same_option_in_magics_and_cli(
    spelling: str, typed: str, option: str, value: object
) -> None:
    assert _magic(spelling, typed) == {option: value}
    assert _cli(spelling, typed) == {option: value}


@pytest.mark.parametrize(("words", "expected"), [(("--upcast",), True), (("--no-upcast",), False)])
def test_upcast_is_a_switch_both_ways(words: tuple[str, ...], expected: bool) -> None:
    assert _magic(*words) == _cli(*words) == {"upcast": expected}


def test_a_bad_precision_is_one_line_in_magics_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="invalid choice: 'quick'") as caught:
        _magic("--precision", "quick")
    assert "\n" not in str(caught.value)
    status = embed_nb.cli.main(["info", "-m", "model.gguf", "--precision", "quick"])
    err = capsys.readouterr().err
    assert status == 2 and "invalid choice: 'quick'" in err and err.count("\n") == 1
    assert set(flags.FLAGS["precision"].choices or ()) == {"exact", "fast"}


@pytest.mark.parametrize("words", [("-c", "0"), ("-t", "-1"), ("-t", "0"), ("-ngl", "auto"), ()])
def test_llama_cpp_defaults_mean_not_given(words: tuple[str, ...]) -> None:
    # -c 0: the training context; -t -1: every core; -ngl auto: the engine decides.
    assert _magic(*words) == _cli(*words) == {}


def test_the_llama_cpp_spellings_are_aliases_of_the_long_names() -> None:
    short = {flag.spellings[0]: flag.option for flag in flags.FLAGS.values()}
    assert {"-c", "-t", "-ngl", "-fa", "-ub"} <= short.keys()
    for flag in flags.FLAGS.values():
        assert flag.long == "--" + flag.option.replace("_", "-")
        assert flag.long in flag.spellings


def test_each_flag_sets_an_option_of_the_dataclasses() -> None:
    local, remote = set(option_names(LocalOptions)), set(option_names(RemoteOptions))
    for flag in flags.FLAGS.values():
        where = {"local": local, "remote": remote, "both": local & remote}[flag.applies]
        assert flag.option in where, flag
    # Every local option but the display name is a flag of both front ends.
    assert local - {"name"} <= set(CLI_OPTIONS) | {"pooling"}
    assert local <= set(MAGIC_OPTIONS)


def test_the_models_take_the_dataclass_fields_as_keywords() -> None:
    def keywords(cls: type, first: str) -> dict[str, object]:
        parameters = inspect.signature(cls).parameters
        return {n: p.default for n, p in parameters.items() if n != first}

    def defaults(cls: type) -> dict[str, object]:
        return {f.name: f.default for f in dataclasses.fields(cls) if f.init}

    assert keywords(LocalModel, "path") == defaults(LocalOptions)
    remote = keywords(RemoteModel, "url")
    assert remote.pop("transport") is None  # a test seam, not an option
    assert remote == defaults(RemoteOptions)


def test_load_model_documents_every_option_and_hides_the_transport() -> None:
    doc = embed_nb.load_model.__doc__ or ""
    for name in (*option_names(LocalOptions), *option_names(RemoteOptions)):
        assert f"``{name}=" in doc
    assert "upcast" in doc and "n_contexts" in doc and "transport" not in doc
    assert "``precision='exact'``" in doc


def test_an_unknown_option_lists_no_test_seam() -> None:
    with pytest.raises(InvalidInputError) as caught:
        embed_nb.load_model("http://127.0.0.1:9", timeoutt=1)
    assert "timeout" in str(caught.value) and "transport" not in str(caught.value)


def test_the_options_are_frozen_values_that_check_themselves() -> None:
    options = LocalOptions(n_ctx=64, pooling="mean")
    assert options == LocalOptions(n_ctx=64, pooling="mean")
    assert options.checked.pooling == pooling.Pooling.MEAN
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.n_ctx = 8  # type: ignore[misc]
    with pytest.raises(InvalidInputError, match="n_ctx=0 is out of range"):
        LocalOptions(n_ctx=0)
    with pytest.raises(InvalidInputError, match="unknown pooling 'avg'"):
        LocalOptions(pooling="avg")
    assert RemoteOptions(timeout=3).timeout == 3.0
    with pytest.raises(InvalidInputError, match="timeout must be a positive number"):
        RemoteOptions(timeout=-1)
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        RemoteOptions(kind="grpc")
    assert "secret" not in repr(RemoteOptions(api_key="secret"))


def test_one_pooling_table() -> None:
    from embed_nb.engine import gguf_check, normalize
    from embed_nb.engine.context import FLASH_ATTN_TYPES
    from embed_nb.engine.remote import _options
    from embed_nb.quantize import PRECISIONS

    assert pooling.POOLINGS == ("none", "mean", "cls", "last", "rank")
    assert normalize.POOLING_TYPES is pooling.POOLING_TYPES
    assert range(0, 5) == gguf_check.POOLING_RANGE
    assert (*pooling.POOLINGS, "pooled") == _options.POOLINGS
    assert flags.FLAGS["pooling"].choices == pooling.POOLINGS
    assert set(flags.FLASH_ATTN) == set(FLASH_ATTN_TYPES)
    assert flags.QUANTIZE_PRECISIONS == PRECISIONS
    llama_cpp = pytest.importorskip("llama_cpp")
    for p in pooling.Pooling:
        assert getattr(llama_cpp, f"LLAMA_POOLING_TYPE_{p.name}") == p


def test_a_server_url_refuses_the_local_flags_by_their_spellings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = embed_nb.cli.main(["info", "-m", "http://127.0.0.1:9", "-ub", "64"])
    err = capsys.readouterr().err
    assert status == 2 and "-ub" in err and "server URL takes none of them" in err
