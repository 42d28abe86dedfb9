"""Convert a Hugging Face BERT-family checkpoint to GGUF, with numpy only (no torch).

The output follows what llama.cpp's own ``convert_hf_to_gguf.py`` writes for ``BertModel``
(architecture ``bert``, WordPiece vocabulary as tokenizer model ``bert`` with the phantom-space
``▁`` prefix, the same special token ids and add-bos/eos/sep flags, norms, biases and position /
token-type embeddings kept in f32), so llama.cpp loads it and tokenises exactly like it.

Two deliberate differences from llama.cpp's converter, both for sequence classifiers
(``BertForSequenceClassification`` rerankers):

* ``bert.pooler.dense`` is kept as llama.cpp's ``cls`` tensor. llama.cpp's converter drops it,
  so its GGUFs score ``classifier(h_cls)`` instead of ``classifier(tanh(pooler(h_cls)))`` and the
  scores come out on a different scale from the checkpoint's own. Pass ``keep_pooler=False`` to
  reproduce llama.cpp's converter.
* ``bert.pooling_type`` is written as RANK, so the GGUF is a reranker without extra flags.

The GGUF writing itself lives in :func:`write_bert_gguf` (and the atomic file handling in
:func:`write_gguf_atomically`), so tests can build tiny models from random weights with the very
same code.

Modules: :mod:`.bert` (the encoder's shape, its vocabulary, llama.cpp's enums),
:mod:`.tensors` (HF -> llama.cpp tensor names and types), :mod:`.writer` (the GGUF metadata and
tensors), :mod:`.atomic` (temp file, fsync, rename), :mod:`.vocab` (reading the tokenizer files)
and :mod:`.checkpoint` (config, pooling, safetensors, :func:`convert_checkpoint`).
"""

from __future__ import annotations

from ..pooling import POOLING_TYPES
from .atomic import write_gguf_atomically
from .bert import BertHParams, BertVocab
from .checkpoint import convert_checkpoint, read_checkpoint_pooling
from .vocab import read_bert_vocab
from .writer import write_bert_gguf

__all__ = [
    "CONVERTER_VERSION",
    "POOLING_TYPES",
    "BertHParams",
    "BertVocab",
    "convert_checkpoint",
    "read_bert_vocab",
    "read_checkpoint_pooling",
    "write_bert_gguf",
    "write_gguf_atomically",
]

#: Bump when the bytes written for the same checkpoint change, so caches keyed on it go stale.
CONVERTER_VERSION = 1
