"""A Dask cluster's overhead: embed_nb on a LocalCluster against the engine in the kernel.
(Not named distributed.py: in bench/ that name would shadow the package.)

    python bench/cluster.py [--model PATH] [--texts 2500] [--workers 2] [--repeat 3]

Both embed the same real texts with the same model file; the kernel runs one engine with every
core, the cluster ``--workers`` worker processes of one thread each (each engine takes its
share of the cores). On one machine the cores are the same, so the ratio is what the cluster
costs: shipping texts and vectors, the parts, the workers' scheduling. Also prints how many
times each worker loaded the model (target: 1), whether the vectors are bit-identical to the
kernel's in the same parts, and the largest difference from one call in the kernel.
Target: cluster >= 0.85x the kernel's rate.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from _common import best_seconds, corpus, model_path, parser


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--workers", type=int, default=2, help="worker processes, one thread each")
    args = p.parse_args()
    texts = corpus(args.texts)

    from distributed import Client, LocalCluster

    import embed_nb
    from embed_nb.cache import EmbeddingCache
    from embed_nb.distributed import load_counts

    model = embed_nb.load_model(model_path(args.model), n_threads=args.threads)
    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    up = time.perf_counter() - started
    print(f"LocalCluster({args.workers} workers x 1 thread) up in {up:.1f} s")
    try:

        def in_kernel() -> np.ndarray:
            return np.asarray(embed_nb.embed(texts, model=model, cache=False, progress=False))

        def on_cluster() -> np.ndarray:
            result = embed_nb.embed(texts, model=model, cache=False, progress=False, cluster=client)
            return np.asarray(result)

        started = time.perf_counter()
        first = on_cluster()  # the workers load the model here
        print(f"first cluster job (workers load the model): {time.perf_counter() - started:.1f} s")
        kernel_vectors = in_kernel()
        # The same parts in the kernel: a job with a cache runs in parts of JOB_PART texts.
        with tempfile.TemporaryDirectory() as folder:
            store = EmbeddingCache(Path(folder) / "cache.sqlite")
            same_parts = np.asarray(embed_nb.embed(texts, model=model, cache=store, progress=False))
            store.close()
        kernel = best_seconds(in_kernel, args.repeat)
        remote = best_seconds(on_cluster, args.repeat)
        loads = client.run(load_counts)
    finally:
        client.close()
        cluster.close()

    n = len(texts)
    print(f"\n{n} texts, {args.threads} threads, best of {args.repeat}\n")
    print("| contender | texts/s | vs kernel |")
    print("|---|---:|---:|")
    print(f"| engine in the kernel ({args.threads} threads) | {n / kernel:.1f} | 1.00x |")
    print(
        f"| LocalCluster, {args.workers} workers x 1 thread | {n / remote:.1f} | "
        f"{kernel / remote:.2f}x |"
    )
    per_worker = sorted(sum(counts.values()) for counts in loads.values())
    print(f"\nmodel loads per worker: {per_worker} (target: all 1)")
    identical = np.array_equal(first, same_parts)
    print(f"cluster == kernel with the same parts, bit for bit: {identical}")
    print(f"max |cluster - kernel in one call|: {np.abs(first - kernel_vectors).max():.2e}")
    print(f"cluster / kernel rate: {kernel / remote:.2f}x (target >= 0.85x)")


if __name__ == "__main__":
    main()
