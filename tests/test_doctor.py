"""The model doctor: each check on a model that has the problem, its fix, and a clean model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import configured, run

import embed_nb
from embed_nb import registry
from embed_nb.cli import main
from embed_nb.engine import LocalModel
from embed_nb.errors import InputTooLongError, InvalidInputError, ModelClosedError
from embed_nb.model_doctor import Diagnosis, Finding, doctor
from embed_nb.settings import SETTINGS
from embed_nb.vectors import cosine_similarity

QWEN3_STEM = "Qwen3-Embedding-tiny"


def checks(diagnosis: Diagnosis, level: str = "warning") -> list[str]:
    return [f.check for f in diagnosis.findings if f.level == level]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny models of this module, written once."""
    root = tmp_path_factory.mktemp("doctor")
    f16 = tiny_models.write_tiny_bert(root / "bert-f16.gguf", outtype="f16")
    return {
        "llama_mean": tiny_models.write_tiny_llama(root / "tiny-llama-mean.gguf", pooling="mean"),
        "llama_last": tiny_models.write_tiny_llama(root / "tiny-llama-last.gguf", pooling="last"),
        "llama_cls": tiny_models.write_tiny_llama(root / "tiny-llama-cls.gguf", pooling="cls"),
        # A Qwen3-Embedding-style decoder: last pooling, a tokenizer that adds no EOS.
        "qwen3": tiny_models.write_tiny_llama(root / f"{QWEN3_STEM}.gguf", pooling="last"),
        "bert_last": tiny_models.write_tiny_bert(root / "tiny-bert-last.gguf", pooling="last"),
        "bert": tiny_models.write_tiny_bert(root / "tiny-bert.gguf", pooling="mean"),
        "nomic": tiny_models.write_tiny_bert(root / "nomic-embed-tiny.gguf", pooling="cls"),
        "q4": tiny_models.write_quantized(f16, root / "bert-q4_0.gguf", "Q4_0"),
        "q8": tiny_models.write_quantized(f16, root / "bert-q8_0.gguf", "Q8_0"),
    }


@pytest.fixture
def load(files: dict[str, Path]) -> Iterator[object]:
    """``load(key, **options)``: a LocalModel of one of the files, closed after the test."""
    loaded: list[LocalModel] = []

    def make(key: str, **options: object) -> LocalModel:
        model = LocalModel(files[key], **options)  # type: ignore[arg-type]
        loaded.append(model)
        return model

    yield make
    for model in loaded:
        model.close()


# --- the default model -------------------------------------------------------------------


def test_the_default_model_is_clean(default_model_path: Path) -> None:
    # Its own copy: the session's default_model remembers long texts other tests embedded.
    with LocalModel(default_model_path) as model:
        diagnosis = doctor(model)
    assert diagnosis.ok and diagnosis.findings == ()
    assert diagnosis.facts["architecture"] == "bert encoder"
    text = repr(diagnosis)
    assert text.splitlines()[1] == "no problems found"
    assert "no problems found" in diagnosis._repr_html_()


# --- pooling -------------------------------------------------------------------------------


def test_a_decoder_mean_pooled_is_told_to_pool_last(load) -> None:  # type: ignore[no-untyped-def]
    diagnosis = doctor(load("llama_mean"))
    assert checks(diagnosis) == ["pooling"]
    (finding,) = diagnosis.findings
    assert "decoder" in finding.what and "mean-pooled" in finding.what
    assert "pooling='last'" in finding.fix
    # The fix is real: pooled last, the pooling warning is gone (the EOS one is another story).
    assert "pooling" not in checks(doctor(load("llama_mean", pooling="last")))


def test_a_decoder_cls_pooled_and_an_encoder_last_pooled(load) -> None:  # type: ignore[no-untyped-def]
    decoder = doctor(load("llama_cls"))
    assert checks(decoder) == ["pooling"] and "first token" in decoder.findings[0].what
    encoder = doctor(load("bert_last"))
    assert checks(encoder) == ["pooling"]
    assert "encoder" in encoder.findings[0].what and "'mean' or 'cls'" in encoder.findings[0].fix
    assert doctor(load("bert_last", pooling="mean")).ok


def test_a_family_pooled_otherwise_than_it_was_trained(load) -> None:  # type: ignore[no-untyped-def]
    diagnosis = doctor(load("nomic"))  # nomic-embed is mean-pooled; this file says cls
    assert diagnosis.facts["family"] == "nomic-embed"
    assert checks(diagnosis) == ["pooling"]
    assert "pooling='mean'" in diagnosis.findings[0].fix
    assert doctor(load("nomic", pooling="mean")).ok


# --- the closing EOS -----------------------------------------------------------------------


def test_a_last_pooled_model_without_eos_and_the_fix(
    load,  # type: ignore[no-untyped-def]
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    model = load("llama_last")
    diagnosis = doctor(model)
    assert checks(diagnosis) == ["eos"]
    finding = diagnosis.findings[0]
    assert "appends no end-of-sequence token" in finding.what
    assert "tokenizer.ggml.add_eos_token 1" in finding.fix and "'</s>'" in finding.fix
    # Apply the fix the doctor names, to a copy: the warning goes.
    fix_args = ["tokenizer.ggml.add_eos_token", "1", "--force"]
    fixed = shutil.copy(files["llama_last"], tmp_path / "fixed.gguf")
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_set_metadata", str(fixed), *fix_args],
        check=True,
        capture_output=True,
    )
    with LocalModel(fixed) as repaired:
        assert repaired.tokenize("hello")[-1] not in repaired.tokenize("hello", add_special=False)
        assert doctor(repaired).ok and doctor(repaired).findings == ()


def test_a_qwen3_style_model_without_eos(load) -> None:  # type: ignore[no-untyped-def]
    model = load("qwen3")
    diagnosis = doctor(model)
    assert diagnosis.facts["family"] == "qwen3-embedding"
    if model.prompts.suffix:  # the preset appends the EOS text: embed_nb is right, say so
        assert diagnosis.ok and checks(diagnosis, "note") == ["eos"]
        assert "'</s>'" in diagnosis.findings[0].what
        assert "add_eos_token 1" in diagnosis.findings[0].fix
        # What the note says: the API's texts end in the EOS token.
        embedded = embed_nb.embed(["hello"], model=model, cache=False)
        assert embedded.token_counts == [len(model.tokenize("hello")) + 1]
    else:
        assert checks(diagnosis) == ["eos"]


# --- prompts -------------------------------------------------------------------------------


def test_a_family_that_needs_a_prompt_used_without_one(load) -> None:  # type: ignore[no-untyped-def]
    diagnosis = doctor(load("qwen3", query_prompt=""))
    assert "prompt" in checks(diagnosis)
    finding = next(f for f in diagnosis.findings if f.check == "prompt")
    assert "qwen3-embedding" in finding.what and "Instruct:" in finding.what
    assert "query_prompt" in finding.fix
    assert "prompt" not in checks(doctor(load("qwen3")))  # the preset is on by default


# --- quantisation --------------------------------------------------------------------------


def test_a_4_bit_file_warns_and_q8_does_not(load) -> None:  # type: ignore[no-untyped-def]
    q4 = doctor(load("q4"))
    assert checks(q4) == ["quantization"]
    assert "Q4_0 (4.5 bits per weight)" in q4.findings[0].what
    assert "Q8_0 or F16" in q4.findings[0].fix
    assert doctor(load("q8")).ok


# --- context -------------------------------------------------------------------------------


def test_texts_longer_than_the_context(load) -> None:  # type: ignore[no-untyped-def]
    model = load("bert", n_ctx=32)
    model.embed(["a cat", "the dog"])
    assert doctor(model).ok
    assert doctor(model).facts["longest text seen"] == "4 tokens"
    long_text = "the cat is on the mat " * 10
    n = len(model.tokenize(long_text))
    assert 32 < n < 128
    with pytest.raises(InputTooLongError):
        model.embed(long_text)  # refused, but seen
    diagnosis = doctor(model)
    assert checks(diagnosis) == ["context"]
    what, fix = diagnosis.findings[0].what, diagnosis.findings[0].fix
    assert f"had {n} tokens" in what and "at most 32" in what
    assert f"n_ctx={n}" in fix  # the file was trained on 128: a larger context fixes it
    longer = long_text * 3
    model.embed(longer, truncate=True)
    assert f"had {len(model.tokenize(longer))} tokens" in doctor(model).findings[0].what
    assert "split long documents" in doctor(model).findings[0].fix


# --- normalisation -------------------------------------------------------------------------


def test_normalisation_off(load) -> None:  # type: ignore[no-untyped-def]
    model = load("bert")
    assert doctor(model).ok
    for mode, level in ((-1, "warning"), (0, "warning"), (1, "note")):
        with SETTINGS.override(normalize=mode):
            diagnosis = doctor(model)
        assert checks(diagnosis, level) == ["normalize"], mode
        assert "normalize=2" in diagnosis.findings[0].fix
    # What the warning says: cosine ranks the same, but the vectors are not unit length.
    texts = ["a cat", "a dog eats food", "the moon"]
    raw = np.asarray(model.embed(texts, normalize=-1))
    unit = np.asarray(model.embed(texts, normalize=2))
    np.testing.assert_allclose(cosine_similarity(raw), cosine_similarity(unit), atol=1e-5)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


# --- the result type -----------------------------------------------------------------------


def test_reprs_escape_what_comes_from_files(load) -> None:  # type: ignore[no-untyped-def]
    model = load("llama_mean", name="<img src=x onerror=alert(1)>\nname")
    diagnosis = doctor(model)
    html = diagnosis._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<td><b>warning</b></td>" in html
    assert repr(diagnosis).startswith("Model doctor: <img src=x onerror=alert(1)>\\nname (")
    data = diagnosis.as_dict()
    assert data["findings"][0]["check"] == "pooling" and json.dumps(data)
    notes_only = Diagnosis("m", {}, (Finding("note", "x", "what", "fix"),))
    assert notes_only.ok and "notes below" in repr(notes_only)


def test_bad_models(load) -> None:  # type: ignore[no-untyped-def]
    model = load("bert")
    model.close()
    with pytest.raises(ModelClosedError):
        doctor(model)
    with pytest.raises(InvalidInputError):
        doctor(42)  # type: ignore[arg-type]
    assert embed_nb.doctor is doctor


# --- the magic and the CLI -----------------------------------------------------------------


def test_magic(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured(shell, tmp_path, monkeypatch, files["bert"]) as ip:
        run(ip, f"%embed_model load {files['llama_mean']} --name dec")
        shown = run(ip, "%embed_model doctor")
        assert isinstance(shown, Diagnosis) and checks(shown) == ["pooling"]
        run(ip, f"%embed_model load {files['bert']} --name enc")
        assert run(ip, "%embed_model doctor enc").ok
        assert checks(run(ip, "%embed_model doctor dec")) == ["pooling"]
        assert registry.REGISTRY.current == "enc"
        for line in ("%embed_model doctor a b", "%embed_model doctor nosuch"):
            result = ip.run_cell(line, store_history=False)
            assert isinstance(result.error_in_exec, UsageError), line
            assert "\n" not in str(result.error_in_exec)
    capsys.readouterr()


def test_cli(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "-m", str(files["llama_mean"]), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Model doctor: tiny-llama-mean (") and "\nwarning: " in out
    assert main(["doctor", "-m", str(files["llama_mean"]), "--pooling", "last", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["check"] for f in data["findings"]] == ["eos"]
    assert main(["doctor", "-m", str(files["bert"])]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "no problems found"
    assert main(["doctor", "-m", str(files["bert"]), "--pooling", "bogus"]) == 2
    assert "--pooling" in capsys.readouterr().err


class _ServerModel:
    """A model on a server as the doctor sees it: no file, a pooling the server hides."""

    name, fingerprint, pooling, n_embd, max_tokens = "served", "f" * 16, "pooled", 8, 64
    kind, closed, is_reranker, longest_input = "llama-server", False, False, 100

    def __init__(self) -> None:
        from embed_nb.engine.info import ModelInfo

        self.info = ModelInfo("served", "http://127.0.0.1:1", "unknown", "", 8, 0, 64, "pooled")

    def embed(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the doctor embeds nothing")

    def tokenize(self, text: str, **kwargs: object) -> list[int]:
        raise InvalidInputError("no /tokenize here")


def test_a_model_on_a_server_says_what_was_not_checked() -> None:
    diagnosis = doctor(_ServerModel())  # type: ignore[arg-type]
    assert checks(diagnosis) == ["context"] and checks(diagnosis, "note") == ["server"]
    assert "split long documents" in diagnosis.findings[0].fix  # no n_ctx to raise remotely
    assert "embed-nb doctor -m MODEL.gguf" in diagnosis.findings[1].fix
