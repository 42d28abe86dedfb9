"""Latency of one short query: embed_nb's engine against ``Llama.embed`` on the same GGUF.

    python bench/latency.py [--model PATH] [--calls 300]

Prints p50/p90/p99 in milliseconds and the ratio of the p50s. Target: engine p50 <= 3 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from _common import model_path, parser, percentile_ms

QUERIES = ["What is a panda?", "How do I open a file?", "sort a list in place", "cosine similarity"]


def timings(call: Callable[[str], object], n: int) -> list[float]:
    for q in QUERIES:
        call(q)  # warm up: first decodes allocate
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(QUERIES[i % len(QUERIES)])
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--calls", type=int, default=300)
    args = p.parse_args()
    path = model_path(args.model)

    from llama_cpp import Llama

    from embed_nb.engine import LocalModel

    llm = Llama(
        model_path=path,
        embedding=True,
        n_ctx=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=True,
        verbose=False,
    )
    model = LocalModel(path, n_threads=args.threads)
    rows = {
        "Llama.embed (flash_attn)": timings(llm.embed, args.calls),
        "embed_nb engine": timings(model.embed, args.calls),
    }
    base = percentile_ms(rows["Llama.embed (flash_attn)"], 50)
    print(f"{args.calls} calls of one short query, {args.threads} threads, model {path}")
    print(f"{'contender':<28} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'vs Llama.embed':>15}")
    for label, samples in rows.items():
        p50 = percentile_ms(samples, 50)
        print(
            f"{label:<28} {p50:8.2f} {percentile_ms(samples, 90):8.2f} "
            f"{percentile_ms(samples, 99):8.2f} {base / p50:14.2f}x"
        )
    print("target: engine p50 <= 3 ms")


if __name__ == "__main__":
    main()
