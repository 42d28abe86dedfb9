"""Retrieval quality of quantised and shortened vectors against float32, in one run.

    python bench/retrieval.py [--texts N] [--model PATH]

The task: standard-library docstrings (``embed_nb.datasets.stdlib_docs()``). A docstring's
first sentence is the query and the whole docstring its document; recall@10 is the share of
queries whose own document is among the 10 best of the corpus. Documents longer than the
model's context are truncated (``truncate=True``). Rows:

* float32: cosine search of the float vectors (the baseline).
* int8, uint8, binary, ubinary: the corpus quantised (``Embeddings.quantize``), searched with
  the float query and rescored (``rescore_multiplier`` 4; for binary also 1, which is the
  quantised ranking alone, as rescoring 10 candidates only reorders them).
* dims 384/256/128/64: corpus and queries embedded with ``embed(..., dim=N)``.

Every ratio is against the float32 row of the same run.
"""

from __future__ import annotations

import time

import numpy as np
from _common import model_path, parser

import embed_nb
from embed_nb.datasets import _first_sentence, stdlib_docs
from embed_nb.quantize import QuantizedEmbeddings
from embed_nb.quantized_search import rescored_top_k
from embed_nb.vectors import top_k, unit_rows

K = 10
DIMS = (384, 256, 128, 64)


def task(n: int) -> tuple[list[str], list[str]]:
    """``(queries, documents)``: query i is the first sentence of document i. Documents that
    are only their first sentence (the query would be the answer) and sentences that open
    several docstrings (no one right answer) are left out; the first ``n`` kept."""
    pairs: list[tuple[str, str]] = []
    for entry in stdlib_docs():
        sentence = _first_sentence(entry.text)
        if sentence is not None and len(entry.text) > len(sentence) + 40:
            pairs.append((sentence, entry.text))
    counts: dict[str, int] = {}
    for sentence, _ in pairs:
        counts[sentence] = counts.get(sentence, 0) + 1
    kept = [(s, t) for s, t in pairs if counts[s] == 1][:n]
    return [s for s, _ in kept], [t for _, t in kept]


def recall_float(queries: np.ndarray, corpus: np.ndarray) -> float:
    unit = unit_rows(corpus, np.float64)
    hits = 0
    for i, q in enumerate(unit_rows(queries, np.float64)):
        order, _ = top_k(unit @ q, K)
        hits += i in order
    return hits / len(queries)


def recall_quantized(queries: np.ndarray, corpus: QuantizedEmbeddings, multiplier: int) -> float:
    hits = 0
    for i, q in enumerate(queries.astype(np.float64)):
        order, _ = rescored_top_k(q, corpus, K, multiplier)
        hits += i in order
    return hits / len(queries)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(texts=2000)
    args = p.parse_args()
    queries, documents = task(args.texts)
    model = embed_nb.load_model(model_path(args.model), name="all-minilm-l6-v2")
    opts = dict(model=model, cache=False, progress=False, truncate=True)
    start = time.perf_counter()
    doc_vectors = embed_nb.embed(documents, **opts)
    query_vectors = np.asarray(embed_nb.embed(queries, **opts))
    print(
        f"{len(queries):,} queries, {len(documents):,} documents "
        f"({doc_vectors.total_tokens:,} tokens), embedded in {time.perf_counter() - start:.1f} s"
    )
    d = doc_vectors.dim
    base = recall_float(query_vectors, np.asarray(doc_vectors))
    rows = [("float32", "", base, 4 * d)]
    for precision, multipliers in (
        ("int8", (4,)),
        ("uint8", (4,)),
        ("binary", (1, 4, 10)),
        ("ubinary", (4,)),
    ):
        packed = doc_vectors.quantize(precision)
        for m in multipliers:
            label = f"{m}x" if m > 1 else "none (1x)"
            recall = recall_quantized(query_vectors, packed, m)
            rows.append((precision, label, recall, packed.bytes_per_vector))
    for dim in DIMS:
        if dim > d:
            continue
        if dim == d:
            corpus_dim, queries_dim = np.asarray(doc_vectors), query_vectors
        else:
            corpus_dim = np.asarray(embed_nb.embed(documents, dim=dim, **opts))
            queries_dim = np.asarray(embed_nb.embed(queries, dim=dim, **opts))
        rows.append((f"dim {dim}", "", recall_float(queries_dim, corpus_dim), 4 * dim))

    print()
    print("| vectors | rescoring | recall@10 | vs float32 | bytes/vector | memory saved |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rescore, recall, size in rows:
        print(
            f"| {name} | {rescore} | {recall:.3f} | {recall / base:.3f} | {size:,} | "
            f"{4 * d / size:g}x |"
        )
    print()
    print(
        "MiniLM (all-MiniLM-L6-v2) is not Matryoshka-trained: nothing in its training put the "
        "most information in the leading components, so the dim rows cut an arbitrary prefix "
        "of its vector. They show what truncation costs this model; a Matryoshka model "
        "(nomic-embed v1.5, EmbeddingGemma, Qwen3-Embedding) loses much less at the same size."
    )
    model.close()


if __name__ == "__main__":
    main()
