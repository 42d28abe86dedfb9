"""UMAP on real texts: embed_nb.umap_fast vs umap-learn's defaults, measured in the same run.

Corpus: the standard library's docstrings (``embed_nb.datasets.stdlib_docs``), their first
sentences (``short_texts``) and the pydoc help topics, embedded with the default model
(all-MiniLM-L6-v2). The embeddings are cached under the user cache so a
rerun only times UMAP.

Both contenders run once untimed first, so numba's JIT is warm for both. Quality is
``sklearn.manifold.trustworthiness`` (cosine, 15 neighbours) of each 2-D layout against the
embeddings, on a fixed random subset of points when the corpus is large (its cost is n^2).

    python bench/umap.py                 # >= 8,000 texts
    python bench/umap.py --texts 4000 --runs 1
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

# This file is called umap.py: drop its folder from the path so `import umap` finds umap-learn.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def embedded_corpus(limit: int | None) -> tuple[np.ndarray, list[str]]:
    from embed_nb.datasets import pydoc_topics, short_texts, stdlib_docs
    from embed_nb.paths import cache_dir

    # Whole docstrings, their first sentences (where not the whole docstring) and the help
    # topics: about 9,300 unique real texts on CPython 3.11 (docstrings alone give 6,013).
    texts = [entry.text for entry in stdlib_docs()]
    texts += short_texts() + [entry.text for entry in pydoc_topics()]
    texts = list(dict.fromkeys(t for t in texts if t.strip()))  # unique, non-empty
    if limit:
        texts = texts[:limit]
    key = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:16]
    path = cache_dir() / "bench" / f"stdlib-minilm-{key}.npy"
    if path.exists():
        return np.load(path), texts
    from embed_nb import load_model

    print(f"embedding {len(texts):,} texts with all-minilm-l6-v2 (cached for next time)...")
    start = time.perf_counter()
    with load_model("all-minilm-l6-v2") as model:
        vectors = np.asarray(model.embed(texts, truncate=True), dtype=np.float32)
    print(f"  {time.perf_counter() - start:.1f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, texts


def trust(vectors: np.ndarray, layout: np.ndarray, sample: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(vectors[sample], layout[sample], n_neighbors=15, metric="cosine"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=0, help="cap on texts (0: the whole corpus)")
    p.add_argument("--runs", type=int, default=2, help="runs per contender (medians reported)")
    p.add_argument("--trust-sample", type=int, default=5000, help="points scored for quality")
    args = p.parse_args()

    import umap

    from embed_nb.umap_fast import fast_umap

    vectors, _texts = embedded_corpus(args.texts or None)
    n = len(vectors)
    print(f"{n:,} texts, dim {vectors.shape[1]}, {len(os.sched_getaffinity(0))} cores")

    # Defaults on both sides: no random_state, so umap-learn runs its parallel code paths.
    def baseline() -> np.ndarray:
        return umap.UMAP(metric="cosine").fit_transform(vectors)

    def fast() -> np.ndarray:
        return fast_umap(vectors)

    # Warm numba for both (the two share most kernels; each has its own too).
    warm = vectors[: min(n, 5000)]
    umap.UMAP(metric="cosine", n_epochs=5).fit_transform(warm)
    fast_umap(warm, n_epochs=5)

    sample = np.sort(np.random.default_rng(0).choice(n, min(n, args.trust_sample), replace=False))
    results: dict[str, list[tuple[float, float]]] = {"umap-learn defaults": [], "embed_nb": []}
    for attempt in range(args.runs):
        # Alternate the contenders, so that a busy moment of the machine hits both.
        for name, run in (("umap-learn defaults", baseline), ("embed_nb", fast)):
            start = time.perf_counter()
            layout = run()
            seconds = time.perf_counter() - start
            quality = trust(vectors, layout, sample)
            results[name].append((seconds, quality))
            print(f"  run {attempt} {name:20s} {seconds:7.2f} s  trustworthiness {quality:.4f}")

    base_t = np.median([s for s, _ in results["umap-learn defaults"]])
    base_q = np.mean([q for _, q in results["umap-learn defaults"]])
    fast_t = np.median([s for s, _ in results["embed_nb"]])
    fast_q = np.mean([q for _, q in results["embed_nb"]])
    print()
    print(f"{'contender':22s} {'median s':>9s} {'trust':>7s}")
    print(f"{'umap-learn defaults':22s} {base_t:9.2f} {base_q:7.4f}")
    print(f"{'embed_nb.fast_umap':22s} {fast_t:9.2f} {fast_q:7.4f}")
    print(f"speed-up {base_t / fast_t:.2f}x, trustworthiness difference {fast_q - base_q:+.4f}")


if __name__ == "__main__":
    main()
