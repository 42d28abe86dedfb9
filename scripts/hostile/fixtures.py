"""Fixtures shared by every probe of a run, built once in a subprocess.

``python -m hostile.fixtures OUT`` writes into OUT:

- ``tiny/``: the tests' tiny models (tests/tiny_models.py) and an f16 tiny BERT;
- ``defcache/``: a cache directory holding the converted default model and its f32 copy;
- ``quant/``: Q8_0, Q4_0 and Q4_K_M files made by ``llama_model_quantize``;
- ``crafted/``: damaged and hostile GGUFs (metadata, vocabulary, tensor info, truncations,
  random header bytes), each made from a tiny model;
- ``scaled/``: the default model with one middle tensor scaled by 1.5, same name and size;
- ``cache-template/``: an embeddings cache made by embed_nb from the tiny BERT, and the vectors;
- ``refs/``: reference vectors (cache off) for the comparisons;
- ``manifest.json``: what was made, and what could not be.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Texts the cache template holds (and the cache probes embed again).
CACHE_TEXTS = [f"the cat {w} on the mat number {i}" for i, w in enumerate(
    ["sits", "eats", "reads", "jumps", "sleeps", "writes", "plays", "learns"] * 3
)]
QUANT_TYPES = {"Q8_0": 7, "Q4_0": 2, "Q4_K": 15}
TEXTS = ["The cat sits on the mat", "A dog eats food", "Python code and data science"]


# --------------------------------------------------------------------------------------------
# GGUF surgery


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def edit_in_place(src: Path, dst: Path, edit: Callable[[Any], None]) -> Path:
    """Copy ``src`` to ``dst`` and change bytes of its header through a writable GGUFReader."""
    import gguf

    _copy(src, dst)
    reader = gguf.GGUFReader(dst, "r+")
    edit(reader)
    reader.data.flush()
    del reader
    return dst


def set_scalar(key: str, value: Any) -> Callable[[Any], None]:
    def edit(reader: Any) -> None:
        f = reader.fields[key]
        f.parts[f.data[0]][0] = value

    return edit


def set_array_item(key: str, index: int, value: Any) -> Callable[[Any], None]:
    def edit(reader: Any) -> None:
        f = reader.fields[key]
        f.parts[f.data[index]][0] = value

    return edit


def copy_token(dst_index: int | str, src_index: int | str) -> Callable[[Any], None]:
    """Overwrite one vocabulary entry with another of the same byte length (a repeat)."""

    def edit(reader: Any) -> None:
        f = reader.fields["tokenizer.ggml.tokens"]
        tokens = [bytes(f.parts[i]) for i in f.data]

        def where(ix: int | str) -> int:
            return tokens.index(ix.encode()) if isinstance(ix, str) else ix

        d, s = where(dst_index), where(src_index)
        if len(tokens[d]) != len(tokens[s]):
            raise ValueError("tokens of different lengths")
        f.parts[f.data[d]][:] = f.parts[f.data[s]]

    return edit


def tensor_edit(which: int | str, part: int, value: Any, item: int = 0) -> Callable[[Any], None]:
    """Change a tensor-info part: 2 n_dims, 3 dims, 4 type, 5 data offset."""

    def edit(reader: Any) -> None:
        tensors = reader.tensors
        if isinstance(which, int):
            t = tensors[which]
        else:
            t = next(x for x in tensors if x.name == which)
        arr = t.field.parts[part]
        arr[item] = value(int(arr[item])) if callable(value) else value

    return edit


def rename_tensor(which: int, like: int) -> Callable[[Any], None]:
    """Give tensor ``which`` the name of tensor ``like`` (same length names only)."""

    def edit(reader: Any) -> None:
        a, b = reader.tensors[which].field.parts[1], reader.tensors[like].field.parts[1]
        if len(a) != len(b):
            raise ValueError("names of different lengths")
        a[:] = b

    return edit


def rewrite(
    src: Path,
    dst: Path,
    *,
    drop: frozenset[str] = frozenset(),
    override: dict[str, tuple[Any, Any]] | None = None,
    arch: str | None = None,
    skip_tensors: frozenset[str] = frozenset(),
    tensor_fn: Callable[[str, Any], Any] | None = None,
) -> Path:
    """Write ``src`` again with keys dropped or replaced (value, GGUFValueType) and tensors
    left out or changed."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(src)
    arch_field = reader.get_field("general.architecture")
    old_arch = arch_field.contents() if arch_field is not None else "unknown"
    writer = gguf.GGUFWriter(path=None, arch=arch or old_arch)
    override = dict(override or {})
    for f in reader.fields.values():
        name = f.name
        if name.startswith("GGUF.") or name == "general.architecture" or name in drop:
            continue
        if name in override:
            value, vtype = override.pop(name)
            sub = gguf.GGUFValueType.STRING if vtype == gguf.GGUFValueType.ARRAY else None
            if vtype == gguf.GGUFValueType.ARRAY and value and isinstance(value[0], int):
                sub = gguf.GGUFValueType.INT32
            writer.add_key_value(name, value, vtype, sub_type=sub)
            continue
        vtype = f.types[0]
        sub_type = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, f.contents(), vtype, sub_type=sub_type)
    for name, (value, vtype) in override.items():
        writer.add_key_value(name, value, vtype)
    for t in reader.tensors:
        if t.name in skip_tensors:
            continue
        data = np.asarray(t.data)
        shape = tuple(int(n) for n in reversed(t.shape))
        array = data.reshape(shape) if t.tensor_type.name == "F32" else data
        if tensor_fn is not None:
            array = tensor_fn(t.name, array)
        if t.tensor_type.name in ("F32", "F16"):
            writer.add_tensor(t.name, np.ascontiguousarray(array))
        else:
            writer.add_tensor(t.name, array, raw_dtype=t.tensor_type)
    dst.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file(path=dst)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


def truncate(src: Path, dst: Path, size: int | float) -> Path:
    data = src.read_bytes()
    n = int(len(data) * size) if isinstance(size, float) else size
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: max(0, min(n, len(data)))])
    return dst


def flip_header_bytes(src: Path, dst: Path, seed: int, n: int) -> Path:
    import gguf

    data = bytearray(src.read_bytes())
    header_end = int(gguf.GGUFReader(src).data_offset)
    rng = random.Random(seed)
    for _ in range(n):
        pos = rng.randrange(4, header_end)
        data[pos] ^= 1 << rng.randrange(8)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def scale_middle_tensor(src: Path, dst: Path, factor: float = 1.5) -> Path:
    """The same file with the tensor nearest the middle of the file scaled (same size)."""
    import gguf
    import numpy as np

    _copy(src, dst)
    reader = gguf.GGUFReader(dst, "r+")
    size = dst.stat().st_size
    candidates = [t for t in reader.tensors if t.tensor_type.name in ("F16", "F32")
                  and int(t.n_elements) >= 4096]
    mid = min(candidates, key=lambda t: abs(int(t.data_offset) - size // 2))
    view = mid.data
    view[...] = (np.asarray(view, dtype=np.float32) * factor).astype(view.dtype)
    reader.data.flush()
    del reader
    return dst


# --------------------------------------------------------------------------------------------
# The catalogue of crafted files


def crafted_specs(tiny: dict[str, Path]) -> list[tuple[str, str, Callable[[Path, Path], Path]]]:
    """(name, description, make(src_dir_unused, dst)) for every crafted GGUF."""
    import gguf

    _U32, F32 = gguf.GGUFValueType.UINT32, gguf.GGUFValueType.FLOAT32
    U64, STR = gguf.GGUFValueType.UINT64, gguf.GGUFValueType.STRING
    specs: list[tuple[str, str, Callable[[Path, Path], Path]]] = []

    def add(name: str, base: str, what: str, fn: Callable[..., Path]) -> None:
        def make(_src: Path, dst: Path) -> Path:
            return fn(tiny[base], dst)

        specs.append((f"{base}-{name}", what, make))

    def per_base(base: str, arch: str) -> None:
        eps_key = (
            f"{arch}.attention.layer_norm_epsilon"
            if arch == "bert"
            else f"{arch}.attention.layer_norm_rms_epsilon"
        )
        for value, label in ((float("nan"), "nan"), (float("inf"), "inf"), (-1.0, "neg"),
                             (0.0, "zero")):
            add(f"eps-{label}", base, f"norm epsilon {label}",
                lambda s, d, v=value: edit_in_place(s, d, set_scalar(eps_key, v)))
        for value in (0, 1000, 2**31, 2**32 - 1):
            add(f"block_count-{value}", base, f"block_count {value}",
                lambda s, d, v=value: edit_in_place(s, d, set_scalar(f"{arch}.block_count", v)))
        for value in (99, 5, 2**32 - 1):
            add(f"pooling-{value}", base, f"pooling_type {value}",
                lambda s, d, v=value: edit_in_place(s, d, set_scalar(f"{arch}.pooling_type", v)))
        for value in (0, 16, 64, 2**31):
            add(f"n_embd-{value}", base, f"embedding_length {value}",
                lambda s, d, v=value: edit_in_place(
                    s, d, set_scalar(f"{arch}.embedding_length", v)))
        for value in (0, 3, 64, 2**31):
            add(f"n_head-{value}", base, f"head_count {value}",
                lambda s, d, v=value: edit_in_place(
                    s, d, set_scalar(f"{arch}.attention.head_count", v)))
        for value in (0, 1, 2**31):
            add(f"n_ff-{value}", base, f"feed_forward_length {value}",
                lambda s, d, v=value: edit_in_place(
                    s, d, set_scalar(f"{arch}.feed_forward_length", v)))
        for value in (0, 1, 2**32 - 1):
            add(f"n_ctx_train-{value}", base, f"context_length {value}",
                lambda s, d, v=value: edit_in_place(
                    s, d, set_scalar(f"{arch}.context_length", v)))
        add("n_ctx_train-2^40", base, "context_length 2^40 (u64)",
            lambda s, d: rewrite(s, d, override={f"{arch}.context_length": (2**40, U64)}))
        for key in ("bos_token_id", "eos_token_id"):
            for value in (2**32 - 1, 10**6):
                add(f"{key}-{value}", base, f"tokenizer {key} {value}",
                    lambda s, d, k=key, v=value: edit_in_place(
                        s, d, set_scalar(f"tokenizer.ggml.{k}", v)))
        add("token_type-99", base, "a token type 99",
            lambda s, d: edit_in_place(s, d, set_array_item("tokenizer.ggml.token_type", 7, 99)))
        add("vocab-repeat", base, "a repeated vocabulary token",
            lambda s, d: edit_in_place(s, d, _dup_letters()))
        missing = ["block_count", "embedding_length", "context_length", "attention.head_count",
                   "feed_forward_length", "pooling_type"]
        for key in missing:
            add(f"missing-{key}", base, f"no {arch}.{key}",
                lambda s, d, k=key: rewrite(s, d, drop=frozenset({f"{arch}.{k}"})))
        for key in ("tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                    eps_key):
            add(f"missing-{key}", base, f"no {key}",
                lambda s, d, k=key: rewrite(s, d, drop=frozenset({k})))
        add("arch-unknown", base, "general.architecture 'hostile-arch'",
            lambda s, d: rewrite(s, d, arch="hostile-arch"))
        add("tokenizer-unknown", base, "tokenizer.ggml.model 'hostile'",
            lambda s, d: rewrite(s, d, override={"tokenizer.ggml.model": ("hostile", STR)}))
        add("eps-as-string", base, "norm epsilon stored as a string",
            lambda s, d: rewrite(s, d, override={eps_key: ("1e-5", STR)}))
        add("block_count-as-f32", base, "block_count stored as a float",
            lambda s, d: rewrite(s, d, override={f"{arch}.block_count": (2.0, F32)}))
        add("vocab-short", base, "token list shorter than the embedding rows",
            lambda s, d: rewrite(s, d, override={
                "tokenizer.ggml.tokens": (_tokens(s)[:-40], gguf.GGUFValueType.ARRAY),
                "tokenizer.ggml.token_type": (_types(s)[:-40], gguf.GGUFValueType.ARRAY)}))
        add("types-short", base, "token types shorter than the token list",
            lambda s, d: rewrite(s, d, override={
                "tokenizer.ggml.token_type": (_types(s)[:10], gguf.GGUFValueType.ARRAY)}))
        add("tensor-missing", base, "the first tensor left out",
            lambda s, d: rewrite(s, d, skip_tensors=frozenset({_tensor_names(s)[0]})))
        add("tensor-last-missing", base, "the last tensor left out",
            lambda s, d: rewrite(s, d, skip_tensors=frozenset({_tensor_names(s)[-1]})))
        add("tensor-nan", base, "every weight of one tensor NaN",
            lambda s, d: rewrite(s, d, tensor_fn=_nan_tensor(_tensor_names(s)[3])))
        add("tensor-inf", base, "a huge weight (1e38) everywhere in one tensor",
            lambda s, d: rewrite(s, d, tensor_fn=_fill_tensor(_tensor_names(s)[3], 1e38)))
        add("offset-past-eof", base, "a tensor offset 2^40",
            lambda s, d: edit_in_place(s, d, tensor_edit(2, 5, 2**40)))
        add("offset-last-past-eof", base, "the last tensor's offset past the end",
            lambda s, d: edit_in_place(s, d, tensor_edit(-1, 5, lambda x: x + 10**6)))
        add("offset-misaligned", base, "a tensor offset off by one",
            lambda s, d: edit_in_place(s, d, tensor_edit(1, 5, lambda x: x + 1)))
        add("offset-overlap", base, "two tensors at one offset",
            lambda s, d: edit_in_place(s, d, tensor_edit(3, 5, 0)))
        add("dims-swapped", base, "a matrix's dimensions swapped",
            lambda s, d: edit_in_place(s, d, _swap_dims(_first_matrix(s))))
        add("dims-half", base, "a matrix's first dimension halved",
            lambda s, d: edit_in_place(s, d, tensor_edit(_first_matrix(s), 3, lambda x: x // 2)))
        add("dims-huge", base, "a dimension of 2^40",
            lambda s, d: edit_in_place(s, d, tensor_edit(_first_matrix(s), 3, 2**40, item=1)))
        add("dims-zero", base, "a dimension of 0",
            lambda s, d: edit_in_place(s, d, tensor_edit(_first_matrix(s), 3, 0, item=1)))
        add("n_dims-5", base, "n_dims 5",
            lambda s, d: edit_in_place(s, d, tensor_edit(0, 2, 5)))
        add("ttype-99", base, "tensor type 99",
            lambda s, d: edit_in_place(s, d, tensor_edit(0, 4, 99)))
        add("ttype-q8", base, "an f32 tensor labelled Q8_0",
            lambda s, d: edit_in_place(s, d, tensor_edit(0, 4, 8)))
        add("ttype-f16", base, "an f32 tensor labelled F16",
            lambda s, d: edit_in_place(s, d, tensor_edit(0, 4, 1)))
        add("tensor-dup-name", base, "two tensors with one name",
            lambda s, d: edit_in_place(s, d, _dup_tensor_name()))
        for frac in (8, 24, 200, 0.3, 0.5, 0.9, 0.999):
            add(f"truncated-{frac}", base, f"truncated to {frac}",
                lambda s, d, f=frac: truncate(s, d, f))
        for seed in range(12):
            add(f"header-flip-{seed}", base, f"{1 + seed % 4} random header bits flipped",
                lambda s, d, k=seed: flip_header_bytes(s, d, 1000 + k, 1 + k % 4))
    for base, arch in (("bert", "bert"), ("llama", "llama")):
        per_base(base, arch)
    add("sep-dup-cls", "bert", "[SEP] spelled [CLS] (a repeated special token)",
        lambda s, d: edit_in_place(s, d, copy_token("[SEP]", "[CLS]")))
    add("merges-junk", "llama", "BPE merges that name no tokens",
        lambda s, d: rewrite(s, d, override={
            "tokenizer.ggml.merges": (["zz qq", "no-space", " "], gguf.GGUFValueType.ARRAY)}))
    add("reranker-no-cls", "reranker", "a reranker without its classifier",
        lambda s, d: rewrite(s, d, skip_tensors=frozenset(
            n for n in _tensor_names(s) if n.startswith("cls"))))
    add("reranker-pooling-none", "reranker", "a reranker whose pooling is none",
        lambda s, d: edit_in_place(s, d, set_scalar("bert.pooling_type", 0)))
    return specs


def _dup_letters() -> Callable[[Any], None]:
    def edit(reader: Any) -> None:
        f = reader.fields["tokenizer.ggml.tokens"]
        tokens = [bytes(f.parts[i]) for i in f.data]
        # Two neighbouring single-byte tokens: the second becomes a copy of the first.
        for i in range(len(tokens) - 1, 0, -1):
            if len(tokens[i]) == len(tokens[i - 1]) == 1:
                f.parts[f.data[i]][:] = f.parts[f.data[i - 1]]
                return
        raise ValueError("no two one-byte tokens side by side")

    return edit


def _dup_tensor_name() -> Callable[[Any], None]:
    def edit(reader: Any) -> None:
        names = [t.name for t in reader.tensors]
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                if len(names[j]) == len(a):
                    reader.tensors[j].field.parts[1][:] = reader.tensors[i].field.parts[1]
                    return
        raise ValueError("no two names of one length")

    return edit


def _swap_dims(which: int) -> Callable[[Any], None]:
    def edit(reader: Any) -> None:
        dims = reader.tensors[which].field.parts[3]
        dims[0], dims[1] = int(dims[1]), int(dims[0])

    return edit


def _tokens(path: Path) -> list[str]:
    import gguf

    field = gguf.GGUFReader(path).get_field("tokenizer.ggml.tokens")
    return list(field.contents()) if field is not None else []


def _types(path: Path) -> list[int]:
    import gguf

    field = gguf.GGUFReader(path).get_field("tokenizer.ggml.token_type")
    return [int(x) for x in field.contents()] if field is not None else []


def _tensor_names(path: Path) -> list[str]:
    import gguf

    return [t.name for t in gguf.GGUFReader(path).tensors]


def _first_matrix(path: Path) -> int:
    import gguf

    for i, t in enumerate(gguf.GGUFReader(path).tensors):
        if len(t.shape) == 2 and int(t.shape[0]) != int(t.shape[1]):
            return i
    return 0


def _nan_tensor(name: str) -> Callable[[str, Any], Any]:
    return _fill_tensor(name, float("nan"))


def _fill_tensor(name: str, value: float) -> Callable[[str, Any], Any]:
    def fn(tensor_name: str, array: Any) -> Any:
        if tensor_name == name:
            array = array.copy()
            array[...] = value
        return array

    return fn


# --------------------------------------------------------------------------------------------
# Building


def _quantize(src: Path, dst: Path, ftype: int) -> str | None:
    """Quantise in a child (llama.cpp may abort); the error text, or None when it worked."""
    code = (
        "import ctypes, sys, llama_cpp\n"
        "p = llama_cpp.llama_model_quantize_default_params()\n"
        f"p.ftype = {ftype}\n"
        "p.allow_requantize = True\n"
        f"rc = llama_cpp.llama_model_quantize({str(src).encode()!r}, {str(dst).encode()!r},"
        " ctypes.byref(p))\n"
        "sys.exit(0 if rc == 0 else 3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0 or not dst.is_file():
        return f"rc {done.returncode}: {done.stderr.strip().splitlines()[-1:] or ''}"
    return None


def _reference(path: Path, out: Path, cache_dir: Path, texts: list[str]) -> str | None:
    """Vectors of ``texts`` from ``path``, cache off, in a child with its own cache dir."""
    code = (
        "import sys, numpy as np, embed_nb\n"
        f"m = embed_nb.load_model({str(path)!r})\n"
        f"v = np.asarray(embed_nb.embed({texts!r}, model=m, cache=False))\n"
        f"np.save({str(out)!r}, v)\n"
    )
    env = dict(os.environ, EMBED_NB_CACHE_DIR=str(cache_dir))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    if done.returncode != 0:
        return f"rc {done.returncode}: {(done.stderr.strip().splitlines() or [''])[-1]}"
    return None


def build(out: Path, *, quick: bool = False) -> dict[str, Any]:
    import numpy as np
    import tiny_models

    import embed_nb
    from embed_nb.cache import EmbeddingCache
    from embed_nb.models import default_model_path

    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"problems": {}, "crafted": {}, "quant": {}, "tiny": {}}
    problems = manifest["problems"]
    t = out / "tiny"
    tiny = {
        "bert": tiny_models.write_tiny_bert(t / "bert-mean.gguf", pooling="mean"),
        "bert-cls": tiny_models.write_tiny_bert(t / "bert-cls.gguf", pooling="cls"),
        "bert-none": tiny_models.write_tiny_bert(t / "bert-none.gguf", pooling="none"),
        "bert-f16": tiny_models.write_tiny_bert(t / "bert-f16.gguf", outtype="f16"),
        "llama": tiny_models.write_tiny_llama(t / "llama-last.gguf"),
        "reranker": tiny_models.write_tiny_reranker(t / "reranker.gguf"),
    }
    manifest["tiny"] = {k: str(v) for k, v in tiny.items()}

    # The default model, converted (and upcast) in a cache directory of its own.
    defcache = out / "defcache"
    os.environ["EMBED_NB_CACHE_DIR"] = str(defcache)
    default = default_model_path()
    embed_nb.load_model(str(default)).close()
    manifest["default"] = str(default)
    manifest["defcache"] = str(defcache)

    refs = out / "refs"
    refs.mkdir(exist_ok=True)
    for key, path in [("default", default), *((k, tiny[k]) for k in ("bert", "llama"))]:
        err = _reference(path, refs / f"{key}.npy", out / "refcache", TEXTS)
        if err:
            problems[f"ref-{key}"] = err

    # Quantised files.
    q = out / "quant"
    q.mkdir(exist_ok=True)
    bases = {"default": default, "bert": tiny["bert"], "llama": tiny["llama"],
             "reranker": tiny["reranker"]}
    for base, src in bases.items():
        for qname, ftype in QUANT_TYPES.items():
            if quick and qname != "Q8_0":
                continue
            dst = q / f"{base}-{qname}.gguf"
            err = _quantize(src, dst, ftype)
            if err:
                problems[f"quant-{base}-{qname}"] = err
            else:
                manifest["quant"][f"{base}-{qname}"] = {"path": str(dst), "base": base}

    # Crafted files.
    c = out / "crafted"
    c.mkdir(exist_ok=True)
    for name, what, make in crafted_specs(tiny):
        dst = c / f"{name}.gguf"
        try:
            make(Path(), dst)
            manifest["crafted"][name] = {"path": str(dst), "what": what}
        except Exception as error:
            problems[f"crafted-{name}"] = f"{type(error).__name__}: {error}"

    # The scaled copy of the default model: same file name, another directory.
    scaled = scale_middle_tensor(default, out / "scaled" / default.name)
    manifest["scaled"] = str(scaled)
    err = _reference(scaled, refs / "scaled.npy", out / "refcache-scaled", TEXTS)
    if err:
        problems["ref-scaled"] = err

    # A cache made by embed_nb itself.
    tmpl = out / "cache-template"
    tmpl.mkdir(exist_ok=True)
    os.environ["EMBED_NB_CACHE_DIR"] = str(out / "refcache")
    model = embed_nb.load_model(str(tiny["bert"]))
    store = EmbeddingCache(tmpl / "embeddings.sqlite")
    vectors = np.asarray(embed_nb.embed(CACHE_TEXTS, model=model, cache=store))
    store.close()
    np.save(tmpl / "vectors.npy", vectors)
    manifest["cache_texts"] = CACHE_TEXTS
    manifest["texts"] = TEXTS
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    build(Path(sys.argv[1]), quick="--quick" in sys.argv)
