"""The ``embed-nb`` command line: ``embed`` (as ``llama-embedding`` does it), ``rerank``,
``parquet`` (on a Dask cluster) and ``info``.

It is a thin front end. Every sub-command parses its arguments, calls :func:`embed_nb.load_model`
and then ``model.embed``, ``model.rerank`` or ``model.info``, and prints. The engine's results are
the same numbers the Python API gives; only their printing lives here. With
``--cluster ADDRESS``, ``embed`` sends the texts to a Dask cluster's workers through
:func:`embed_nb.embed` (the same vectors to about 1e-4), and ``parquet`` runs
:func:`embed_nb.distributed.embed_parquet` there and prints the job's summary.

``embed-nb embed`` writes what ``llama-embedding`` writes on stdout, byte for byte in structure
and number formatting (see ``examples/embedding/embedding.cpp`` in llama.cpp):

- ``--embd-output-format ""`` (the default): ``embedding j: ...`` summary lines, then a cosine
  similarity matrix when there are several prompts (``rerank score j: ...`` for a reranker);
- ``array``: ``[[...],[...]]``;
- ``json``: ``{"object": "list", "data": [{"object": "embedding", "index": j, "embedding":
  [...]}]}``; ``json+`` adds ``"cosineSimilarity"``;
- ``raw``: one embedding per line, values separated by single spaces.

Values print as C's ``%1.7f`` (``%1.0f`` with ``--embd-normalize 0``). With pooling ``none`` each
token is one embedding, numbered across all prompts, as llama-embedding does.

Errors a user can fix print as one line, ``embed-nb: error: <message>``, on stderr.
"""

from __future__ import annotations

from ._formats import cosine_matrix, format_output
from ._main import main
from ._parser import build_parser
from ._texts import MAX_INPUT_BYTES

__all__ = ["MAX_INPUT_BYTES", "build_parser", "cosine_matrix", "format_output", "main"]
