"""Converting a HF checkpoint directory: config, sentence-transformers pooling, safetensors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from embed_nb.errors import ModelLoadError, ModelNotFoundError

from .bert import BertHParams, OutType
from .tensors import _strip
from .vocab import _read_json, read_bert_vocab
from .writer import write_bert_gguf


def convert_checkpoint(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    outtype: OutType = "f16",
    pooling: str | None = None,
    keep_pooler: bool = True,
) -> Path:
    """Convert a HF BERT-family checkpoint directory to a GGUF file.

    Reads ``config.json``, ``model.safetensors`` (or sharded safetensors), the tokenizer
    (``tokenizer.json`` / ``tokenizer_config.json`` / ``vocab.txt``) and the sentence-transformers
    pooling config (``modules.json`` -> ``*_Pooling/config.json``).

    Args:
        model_dir: The checkpoint directory.
        out_path: The GGUF to write (atomically).
        outtype: ``"f16"`` (default) or ``"f32"``.
        pooling: Override the pooling type; by default RANK for a sequence classifier, else the
            sentence-transformers pooling mode, else none written (as llama.cpp's converter).
        keep_pooler: For sequence classifiers, keep ``pooler.dense`` so scores match the
            checkpoint (see the module docstring); False reproduces llama.cpp's converter.

    Returns:
        The path written.

    Raises:
        ModelNotFoundError: ``model_dir`` is not a directory with a ``config.json``.
        ModelLoadError: The checkpoint is not a BERT model in safetensors form.
    """
    model_dir = Path(model_dir)
    config = _read_config(model_dir)
    hparams = BertHParams.from_config(config)
    vocab = read_bert_vocab(model_dir, config)
    tensors = _load_safetensors(model_dir)
    is_classifier = any(_strip(n).startswith("classifier.") for n in tensors)
    if pooling is None:
        pooling = "rank" if is_classifier else read_checkpoint_pooling(model_dir)
    labels = _classifier_labels(config, tensors) if is_classifier else None
    return write_bert_gguf(
        out_path,
        hparams,
        tensors,
        vocab,
        pooling=pooling,
        outtype=outtype,
        name=_model_name(config, model_dir),
        classifier_labels=labels,
        keep_pooler=keep_pooler,
    )


def _read_config(model_dir: Path) -> dict[str, Any]:
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(f"{model_dir} has no config.json; expected a HF checkpoint")
    config: dict[str, Any] = _read_json(config_path)
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise ModelLoadError(
            f"model_type {model_type!r} is not supported; only BERT checkpoints convert"
        )
    return config


def _model_name(config: Mapping[str, Any], model_dir: Path) -> str:
    source = str(config.get("_name_or_path") or "")
    # A checkpoint's directory name is more telling than its base model's name.
    return model_dir.name if model_dir.name not in ("", "model") else (source or "bert")


def read_checkpoint_pooling(model_dir: str | os.PathLike[str]) -> str | None:
    """The sentence-transformers pooling mode of a checkpoint, as a :data:`POOLING_TYPES` key.

    Returns None when the checkpoint has no ``modules.json`` Pooling module.

    Raises:
        ModelLoadError: The pooling mode is not one llama.cpp implements (e.g. max pooling).
    """
    model_dir = Path(model_dir)
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        return None
    pooling_dir = next(
        (m["path"] for m in _read_json(modules_path) if str(m.get("type", "")).endswith("Pooling")),
        None,
    )
    if pooling_dir is None:
        return None
    cfg = _read_json(model_dir / pooling_dir / "config.json")
    # Same precedence as llama.cpp's converter: mean, then cls, then last token.
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_lasttoken"):
        return "last"
    mode = {"mean": "mean", "cls": "cls", "lasttoken": "last"}.get(str(cfg.get("pooling_mode")))
    if mode is None:
        raise ModelLoadError(f"{pooling_dir}/config.json: only mean, cls and last pooling work")
    return mode


def _classifier_labels(config: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> list[str]:
    n_out = next(a.shape[0] for n, a in tensors.items() if _strip(n) == "classifier.weight")
    id2label = config.get("id2label") or {}
    return [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(n_out)]


def _load_safetensors(model_dir: Path) -> dict[str, np.ndarray]:
    files = sorted(model_dir.glob("model*.safetensors"))
    if not files:
        raise ModelLoadError(
            f"{model_dir} has no model.safetensors; only safetensors checkpoints convert"
        )
    tensors: dict[str, np.ndarray] = {}
    for path in files:
        tensors.update(_read_safetensors_file(path))
    return tensors


def _read_safetensors_file(path: Path) -> dict[str, np.ndarray]:
    """Read every tensor as float32 numpy; bf16 (which numpy lacks) is widened by hand."""
    from safetensors import safe_open

    header = _safetensors_header(path)
    out: dict[str, np.ndarray] = {}
    with safe_open(str(path), framework="np") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a Mapping
            if header.get(name, {}).get("dtype") == "BF16":
                out[name] = _read_bf16(path, header, name)
            else:
                out[name] = np.asarray(f.get_tensor(name), dtype=np.float32)
    return out


def _safetensors_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header: dict[str, Any] = json.loads(f.read(size))
    header["__offset__"] = 8 + size
    return header


def _read_bf16(path: Path, header: Mapping[str, Any], name: str) -> np.ndarray:
    start, end = header[name]["data_offsets"]
    raw = np.fromfile(
        path, dtype="<u2", count=(end - start) // 2, offset=header["__offset__"] + start
    )
    # bf16 is the top half of an f32.
    widened = raw.astype(np.uint32) << 16
    return widened.view(np.float32).reshape(header[name]["shape"])
