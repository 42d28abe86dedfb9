"""Sentences per second: embed_nb's engine against llama-cpp-python's ``Llama.embed``.

Same GGUF, same threads, same real texts, one run; prints rates and ratios to the baseline.

    python bench/throughput.py [--texts 2500] [--model PATH] [--sweep]
"""

from __future__ import annotations

import numpy as np
from _common import best_seconds, corpus, model_path, parser


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--sweep", action="store_true", help="also sweep the engine's batch_tokens")
    args = p.parse_args()
    path, texts = model_path(args.model), corpus(args.texts)

    from llama_cpp import Llama

    from embed_nb.engine import LocalModel

    def llama_embed(n_batch: int, flash_attn: bool) -> tuple[str, float]:
        llm = Llama(
            model_path=path,
            embedding=True,
            n_ctx=512,
            n_batch=n_batch,
            n_ubatch=n_batch,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            flash_attn=flash_attn,
            verbose=False,
        )
        seconds = best_seconds(lambda: llm.embed(texts), args.repeat)
        llm.close()
        return f"Llama.embed n_batch={n_batch} flash_attn={flash_attn}", seconds

    def engine(**options: object) -> tuple[str, float]:
        model = LocalModel(path, n_threads=args.threads, **options)  # type: ignore[arg-type]
        model.embed(texts[:50])
        seconds = best_seconds(lambda: model.embed(texts), args.repeat)
        model.close()
        label = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
        return f"embed_nb engine ({label})", seconds

    rows = [llama_embed(512, False), llama_embed(128, True)]
    baseline, best_llama = rows[0][1], rows[1][1]
    for n_batch, fa in [(64, True), (256, True), (128, False)]:
        rows.append(llama_embed(n_batch, fa))
        best_llama = min(best_llama, rows[-1][1])
    rows.append(engine())
    ours = rows[-1][1]
    if args.sweep:
        for tokens in (64, 128, 512):
            rows.append(engine(batch_tokens=tokens))
        rows.append(engine(flash_attn="off"))

    print(f"{len(texts)} texts, {args.threads} threads, model {path}")
    print(f"{'contender':<58} {'texts/s':>9} {'vs default':>10}")
    for label, seconds in rows:
        print(f"{label:<58} {len(texts) / seconds:9.1f} {baseline / seconds:9.2f}x")
    print(f"engine vs default Llama.embed: {baseline / ours:.2f}x (target >= 4)")
    print(f"engine vs best Llama.embed:    {best_llama / ours:.2f}x (target >= 1.4)")
    _check_agreement(path, texts[:200], args.threads)


def _check_agreement(path: str, texts: list[str], threads: int) -> None:
    """The speed must not come from different numbers: compare with one-at-a-time Llama.embed."""
    from llama_cpp import Llama

    from embed_nb.engine import LocalModel

    llm = Llama(model_path=path, embedding=True, n_ctx=512, n_threads=threads, verbose=False)
    reference = np.array([llm.embed(t, normalize=True) for t in texts], dtype=np.float32)
    ours = np.asarray(LocalModel(path, n_threads=threads).embed(texts))
    cosine = (reference * ours).sum(axis=1)
    print(f"agreement with Llama.embed one text at a time: min cosine {cosine.min():.6f}")


if __name__ == "__main__":
    main()
