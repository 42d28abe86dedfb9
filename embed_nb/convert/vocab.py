"""Reading a checkpoint's WordPiece vocabulary and tokenizer flags as llama.cpp's converter does."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embed_nb.errors import ModelLoadError

from .bert import (
    _CONTROL,
    _NORMAL,
    _UNUSED,
    _USER_DEFINED,
    BertVocab,
    _bert_special_ids,
    _configured_specials,
)


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_bert_vocab(model_dir: str | os.PathLike[str], config: Mapping[str, Any]) -> BertVocab:
    """Read a WordPiece vocabulary and its special tokens the way llama.cpp's converter does.

    Tokens come from ``tokenizer.json`` (else ``vocab.txt``), padded up to ``vocab_size`` with
    unused ``[PADn]`` entries. Added special tokens are control tokens. BOS is the ``cls_token``
    and EOS the ``sep_token`` unless ``bos_token`` / ``eos_token`` are set.
    """
    model_dir = Path(model_dir)
    tok_json = _read_optional_json(model_dir / "tokenizer.json")
    tok_config = _read_optional_json(model_dir / "tokenizer_config.json")
    vocab_map = _wordpiece_map(model_dir, tok_json)
    added = {t["content"]: t for t in tok_json.get("added_tokens", [])}

    n_vocab = max(int(config.get("vocab_size", 0)), max(vocab_map.values()) + 1)
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    types = [_UNUSED] * n_vocab
    for token, token_id in vocab_map.items():
        tokens[token_id] = token
        types[token_id] = _NORMAL
    for token, entry in added.items():
        token_id = int(entry["id"])
        tokens[token_id] = token
        types[token_id] = _CONTROL if entry.get("special") else _USER_DEFINED
    if not added:
        # A bare vocab.txt: mark the special tokens named in the config as control tokens.
        for token in _configured_specials(tok_config).values():
            if token in vocab_map:
                types[vocab_map[token]] = _CONTROL

    index = {tok: i for i, tok in enumerate(tokens)}
    lowercase, strip_accents = _normalizer_flags(tok_json, tok_config)
    add_bos, add_eos, add_sep = _add_special_flags(tok_json)
    return BertVocab(
        tokens=tokens,
        token_types=types,
        special_ids=_bert_special_ids(index, _configured_specials(tok_config), config),
        add_bos=add_bos,
        add_eos=add_eos,
        add_sep=add_sep,
        lowercase=lowercase,
        strip_accents=strip_accents,
    )


def _read_optional_json(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.is_file() else {}


def _wordpiece_map(model_dir: Path, tok_json: Mapping[str, Any]) -> dict[str, int]:
    model = tok_json.get("model") or {}
    if model:
        if model.get("type") != "WordPiece":
            raise ModelLoadError(f"tokenizer type {model.get('type')!r}: only WordPiece converts")
        return {str(t): int(i) for t, i in model["vocab"].items()}
    vocab_txt = model_dir / "vocab.txt"
    if not vocab_txt.is_file():
        raise ModelLoadError(f"{model_dir} has neither tokenizer.json nor vocab.txt")
    with open(vocab_txt, encoding="utf-8") as f:
        # Keep the first id of a duplicated line, as HF's BertTokenizer does.
        result: dict[str, int] = {}
        for i, line in enumerate(f):
            result.setdefault(line.rstrip("\n"), i)
        return result


def _normalizer_flags(
    tok_json: Mapping[str, Any], tok_config: Mapping[str, Any]
) -> tuple[bool | None, bool | None]:
    norm = tok_json.get("normalizer") or {}
    if norm.get("type") == "BertNormalizer":
        lowercase = norm.get("lowercase")
        strip = norm.get("strip_accents")
    else:
        lowercase = tok_config.get("do_lower_case")
        strip = tok_config.get("strip_accents")
    return (
        lowercase if isinstance(lowercase, bool) else None,
        strip if isinstance(strip, bool) else None,
    )


def _add_special_flags(tok_json: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(add_bos, add_eos, add_sep) as llama.cpp's converter derives them from the template.

    BERT's ``[CLS] A [SEP] B [SEP]`` gives bos and eos but no extra sep; RoBERTa-style
    ``<s> A </s></s> B </s>`` gives all three. Without a template, BERT's flags are assumed.
    """
    post = tok_json.get("post_processor") or {}
    if post.get("type") == "RobertaProcessing":
        return True, True, True
    if post.get("type") != "TemplateProcessing":
        return True, True, False
    single = [_template_item(x) for x in post.get("single", [])]
    pair = [_template_item(x) for x in post.get("pair", [])]
    add_bos = len(single) > 1 and not single[0].startswith("$")
    add_eos = len(single) > 1 and not single[-1].startswith("$")
    # Count special tokens between the two sequences: two means an extra separator.
    try:
        between = pair[pair.index("$A") + 1 : pair.index("$B")]
    except ValueError:
        between = []
    return add_bos, add_eos, len(between) >= 2


def _template_item(item: Mapping[str, Any]) -> str:
    if "Sequence" in item:
        return "$" + str(item["Sequence"].get("id", ""))
    return str(item.get("SpecialToken", {}).get("id", ""))
