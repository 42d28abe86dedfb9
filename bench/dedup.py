"""Near-duplicate mining on 100,000 short texts: embed_nb.paraphrases against
sentence-transformers' paraphrase_mining_embeddings on the same vectors.

    python bench/dedup.py [--model PATH] [--n 100000] [--threads N] [--cache FILE] [--fresh]

The texts: the ~5,400 real sentences of ``embed_nb.datasets.short_texts()``, each also in
variations (a prefix such as "Note: " and/or a trailing " (see the docs)"), in that order,
until there are ``--n``: a corpus with many near duplicates, as a real one has.

Each contender runs in its own process, so each peak memory (ru_maxrss) is its own:

* embed: ``embed_nb.embed(texts)`` into an EmbeddingCache file (``--cache``, kept between runs
  so that the ~5 minutes of embedding are paid once; ``--fresh`` starts it anew), then
  ``embed_nb.paraphrases(texts)`` the way a user calls it (texts, the model loaded, the
  vectors read back from the cache, then mined). Its peak is the whole user path's.
* ours: ``embed_nb.paraphrases(vectors)`` on the saved vectors alone (the mining).
* sentence-transformers 6.2.0: ``paraphrase_mining_embeddings`` (its defaults: top_k 100,
  max_pairs 500,000, query chunks of 5,000 against corpus chunks of 100,000), then the same
  threshold applied to its pairs. The same vectors, the same top_k.

Target: the user path's peak under 2 GB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import model_path, parser

PREFIXES = ("", "Note: ", "In short, ", "See also: ", "Summary: ", "Docs: ", "FYI, ", "Hint: ")
SUFFIXES = ("", " (see the docs)", " Read more below.")


def corpus(n: int) -> list[str]:
    from embed_nb.datasets import short_texts

    base = short_texts()
    texts: list[str] = []
    for suffix in SUFFIXES:
        for prefix in PREFIXES:
            texts.extend(prefix + text + suffix for text in base)
            if len(texts) >= n:
                return texts[:n]
    raise SystemExit(f"only {len(texts)} variations of the short texts, asked for {n}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def phase_embed(args: object, out: Path) -> dict[str, float]:
    import embed_nb
    from embed_nb.cache import EmbeddingCache

    texts = corpus(args.n)  # type: ignore[attr-defined]
    model = embed_nb.load_model(model_path(args.model), n_threads=args.threads)  # type: ignore[attr-defined]
    store = EmbeddingCache(args.cache)  # type: ignore[attr-defined]
    cached = store.info().entries
    started = time.perf_counter()
    vectors = embed_nb.embed(texts, model=model, cache=store, progress=False)
    embed_s = time.perf_counter() - started
    np.save(out, np.asarray(vectors))
    del vectors
    started = time.perf_counter()
    pairs = embed_nb.paraphrases(texts, model=model, cache=store, progress=False)
    total_s = time.perf_counter() - started
    return {
        "embed_s": embed_s,
        "cached_before": cached,
        "paraphrases_texts_s": total_s,
        "pairs": len(pairs),
        "peak_mb": peak_mb(),
    }


def phase_ours(vectors_path: Path, threshold: float, top_k: int) -> dict[str, float]:
    import embed_nb

    vectors = np.load(vectors_path)
    started = time.perf_counter()
    pairs = embed_nb.paraphrases(vectors, threshold=threshold, top_k=top_k)
    seconds = time.perf_counter() - started
    keys = pairs.i.to_numpy() * len(vectors) + pairs.j.to_numpy()
    lowest = float(pairs.score.min()) if len(pairs) else float("nan")
    return {
        "mine_s": seconds,
        "pairs": len(pairs),
        "keys": keys.tolist(),
        "lowest": lowest,
        "peak_mb": peak_mb(),
    }


def phase_st(vectors_path: Path, threshold: float, top_k: int) -> dict[str, float]:
    import torch
    from sentence_transformers.util import paraphrase_mining_embeddings

    vectors = np.load(vectors_path)
    started = time.perf_counter()
    found = paraphrase_mining_embeddings(torch.from_numpy(vectors), top_k=top_k)
    kept = [(score, i, j) for score, i, j in found if score >= threshold]
    seconds = time.perf_counter() - started
    keys = [i * len(vectors) + j for _, i, j in kept]
    lowest = min((score for score, _, _ in kept), default=float("nan"))
    return {
        "mine_s": seconds,
        "pairs": len(kept),
        "keys": keys,
        "lowest": lowest,
        "peak_mb": peak_mb(),
    }


def child(*argv: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=100_000, help="how many texts")
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--top-k", type=int, default=100)
    p.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "embed_nb_bench_dedup.sqlite"),
        help="the EmbeddingCache file that keeps the vectors between runs",
    )
    p.add_argument("--fresh", action="store_true", help="delete --cache first")
    p.add_argument("--phase", help=argparse_hidden())
    p.add_argument("--vectors", help=argparse_hidden())
    args = p.parse_args()
    if args.phase == "embed":
        print(json.dumps(phase_embed(args, Path(args.vectors))))
        return
    if args.phase in ("ours", "st"):
        run = phase_ours if args.phase == "ours" else phase_st
        print(json.dumps(run(Path(args.vectors), args.threshold, args.top_k)))
        return
    if args.fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(args.cache + suffix).unlink(missing_ok=True)
    common = ["--n", str(args.n), "--threshold", str(args.threshold), "--top-k", str(args.top_k)]
    with tempfile.TemporaryDirectory() as folder:
        vectors = str(Path(folder) / "vectors.npy")
        model = ["--model", args.model] if args.model else []
        embedded = child(
            "--phase", "embed", "--vectors", vectors, "--cache", args.cache,
            "--threads", str(args.threads), *model, *common,
        )  # fmt: skip
        ours = child("--phase", "ours", "--vectors", vectors, *common)
        try:
            st = child("--phase", "st", "--vectors", vectors, *common)
        except SystemExit as failed:
            st = None
            print(f"sentence-transformers baseline did not run: {str(failed)[:300]}")
    n = args.n
    cold = "cold" if embedded["cached_before"] == 0 else f"{embedded['cached_before']:,} cached"
    print(
        f"\n{n:,} texts (short_texts() and variations), threshold {args.threshold}, "
        f"top_k {args.top_k}, {args.threads} threads\n"
    )
    print("| step | seconds | pairs | peak RSS (MB) | speed vs sentence-transformers |")
    print("|---|---:|---:|---:|---:|")
    print(f"| embed {n:,} texts ({cold}) | {embedded['embed_s']:.1f} | | | |")
    print(
        f"| paraphrases(texts): cache read + mining, model loaded | "
        f"{embedded['paraphrases_texts_s']:.1f} | {embedded['pairs']:,} | "
        f"{embedded['peak_mb']:.0f} (embed + dedup process) | |"
    )
    base = st["mine_s"] if st else float("nan")
    print(
        f"| embed_nb.paraphrases(vectors) | {ours['mine_s']:.1f} | {ours['pairs']:,} | "
        f"{ours['peak_mb']:.0f} | {base / ours['mine_s']:.2f}x |"
    )
    if st:
        print(
            f"| sentence-transformers paraphrase_mining_embeddings | {st['mine_s']:.1f} | "
            f"{st['pairs']:,} | {st['peak_mb']:.0f} | 1.00x |"
        )
        ours_keys, st_keys = set(ours["keys"]), set(st["keys"])
        print(f"\nsame pairs as sentence-transformers (score >= threshold): {ours_keys == st_keys}")
        if ours_keys != st_keys:
            # Where both stop at max_pairs, which pairs at the cut-off score make it is a tie.
            print(
                f"pairs in one set only: {len(ours_keys ^ st_keys):,} of {len(ours_keys):,}; "
                f"lowest score kept: {ours['lowest']:.6f} (embed_nb), "
                f"{st['lowest']:.6f} (sentence-transformers)"
            )
    print(f"user path peak under 2 GB: {embedded['peak_mb'] < 2048}")


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
