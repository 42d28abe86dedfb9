"""What a BERT GGUF holds besides its weights: the encoder's shape and its WordPiece vocabulary.

Also the llama.cpp token types the converter writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from embed_nb.errors import InvalidInputError, ModelLoadError

OutType = Literal["f16", "f32"]

# gguf TokenType values (llama.cpp's llama_token_type).
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class BertHParams:
    """The shape of a BERT encoder, as llama.cpp needs it.

    Attributes:
        n_layer: Number of transformer blocks.
        n_embd: Hidden size.
        n_ff: Feed-forward (intermediate) size.
        n_head: Attention heads.
        n_ctx: Trained context length (``max_position_embeddings``).
        layer_norm_eps: LayerNorm epsilon.
        type_vocab_size: Rows of the token-type embedding (2 for BERT, 1 for some models).
    """

    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_ctx: int
    layer_norm_eps: float = 1e-12
    type_vocab_size: int = 2

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BertHParams:
        """Read the hyper-parameters from a HF ``config.json`` dict."""
        try:
            return cls(
                n_layer=int(config["num_hidden_layers"]),
                n_embd=int(config["hidden_size"]),
                n_ff=int(config["intermediate_size"]),
                n_head=int(config["num_attention_heads"]),
                n_ctx=int(config["max_position_embeddings"]),
                layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
                type_vocab_size=int(config.get("type_vocab_size", 1)),
            )
        except KeyError as exc:
            raise ModelLoadError(
                f"config.json lacks {exc.args[0]!r}; is this a BERT-family checkpoint?"
            ) from None


@dataclass(frozen=True)
class BertVocab:
    """A WordPiece vocabulary in HF form (``"##ing"`` for continuations, ``"[CLS]"`` etc.).

    Attributes:
        tokens: Token strings by id, exactly as in ``vocab.txt``.
        token_types: gguf token type per id (1 normal, 3 control, 4 user-defined, 5 unused).
        special_ids: llama.cpp special token ids by kind: ``bos``, ``eos``, ``unk``, ``sep``,
            ``pad``, ``cls``, ``mask``.
        add_bos: Whether a tokeniser adds BOS (``[CLS]``) in front.
        add_eos: Whether it adds EOS (``[SEP]``) at the end.
        add_sep: Whether a pair gets an extra separator between its two texts.
        lowercase: BertNormalizer ``lowercase``; None leaves llama.cpp's default (True).
        strip_accents: BertNormalizer ``strip_accents``; None follows ``lowercase``.
    """

    tokens: list[str]
    token_types: list[int]
    special_ids: dict[str, int] = field(default_factory=dict)
    add_bos: bool = True
    add_eos: bool = True
    add_sep: bool = False
    lowercase: bool | None = None
    strip_accents: bool | None = None

    @classmethod
    def from_tokens(cls, tokens: Sequence[str], *, lowercase: bool | None = True) -> BertVocab:
        """Build a vocabulary from a plain token list with the usual BERT special tokens.

        ``[PAD] [UNK] [CLS] [SEP] [MASK]`` become control tokens and everything else normal,
        as llama.cpp's converter marks HF's special added tokens. BOS is ``[CLS]``, EOS and SEP
        are ``[SEP]``.
        """
        tokens = list(tokens)
        index = {tok: i for i, tok in enumerate(tokens)}
        specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
        types = [_CONTROL if tok in specials else _NORMAL for tok in tokens]
        ids = _bert_special_ids(index, {})
        return cls(tokens, types, ids, lowercase=lowercase)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.token_types):
            raise InvalidInputError("tokens and token_types differ in length")


def _configured_specials(tok_config: Mapping[str, Any]) -> dict[str, str]:
    """Special token strings by kind from tokenizer_config.json (BERT defaults otherwise)."""
    found = {
        "unk": "[UNK]",
        "sep": "[SEP]",
        "pad": "[PAD]",
        "cls": "[CLS]",
        "mask": "[MASK]",
    }
    for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        entry = tok_config.get(f"{kind}_token")
        if isinstance(entry, dict):
            entry = entry.get("content")
        if isinstance(entry, str):
            found[kind] = entry
    # BERT has no BOS/EOS of its own: llama.cpp's converter uses CLS and SEP for them.
    found.setdefault("bos", found["cls"])
    found.setdefault("eos", found["sep"])
    return found


def _bert_special_ids(
    index: Mapping[str, int], specials: Mapping[str, str], config: Mapping[str, Any] | None = None
) -> dict[str, int]:
    specials = {**_configured_specials({}), **specials}
    ids: dict[str, int] = {}
    for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        if specials[kind] in index:
            ids[kind] = index[specials[kind]]
        elif config is not None and isinstance(config.get(f"{kind}_token_id"), int):
            ids[kind] = int(config[f"{kind}_token_id"])
    return ids
