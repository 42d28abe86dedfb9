"""Engine probes: local options, crafted GGUFs and quantised models (load, then embed a text)."""

from __future__ import annotations

from typing import Any

from .common import (
    Env,
    Outcome,
    bad,
    check_vectors,
    cosine_rows,
    decode,
    enc,
    fixture,
    label,
    manifest,
    ok,
)
from .core import Probe

# --------------------------------------------------------------------------------------------
# Parent side: the list of probes

OPTION_VALUES: list[Any] = [
    10**400, 2**63, 2**32 + 1, 2**31, 10**6, 4097, -1, -(2**31), 0, 1.5, float("nan"),
    float("inf"), "8", "all", [], [1], None, True, False, {}, b"8",
]
INT_OPTIONS = ["n_ctx", "n_threads", "n_contexts", "n_ubatch", "batch_tokens", "n_gpu_layers"]
STR_OPTIONS: dict[str, list[Any]] = {
    "flash_attn": ["on", "off", "auto", "ON", "", "yes", True, None, 1, [], "fa"],
    "pooling": ["none", "mean", "cls", "last", "rank", "max", "", "MEAN", None, 0, 4, 99, [],
                float("nan")],
    "upcast": [True, False, None, "yes", 2, []],
    "name": ["", "x" * 10000, "a\0b", "\ud800", None, 5, ["n"]],
}
NORMALIZE_VALUES: list[Any] = [
    10**400, 10**6, 1000, 64, 3, 2, 1, 0, -1, -2, 2.5, float("nan"), float("inf"), "2", None,
    True, [2], 2**63,
]
HEAVY = {10**400, 2**63, 2**32 + 1, 2**31, 10**6}


def probes(quick: bool) -> list[Probe]:
    out: list[Probe] = []
    values = OPTION_VALUES if not quick else [2**32 + 1, 10**6, -1, 0, float("nan"), "8", []]
    for option in INT_OPTIONS:
        models = ["tiny:bert", "tiny:llama"] if option in ("n_ctx", "n_ubatch") else ["tiny:bert"]
        for model in models:
            for value in values:
                heavy = isinstance(value, int) and not isinstance(value, bool) and value in HEAVY
                kind = "dies" if heavy else "tracebacks"
                out.append(
                    Probe(
                        f"option {option}={label(value)} ({model.split(':')[1]})",
                        kind,
                        "engine",
                        "p_engine:load_embed",
                        {"source": model, "options": {option: enc(value)}},
                        timeout=60 if heavy else 30,
                        mem_mb=3072,
                        batch=None if heavy else f"opt-{option}-{model}",
                    )
                )
    for option, vals in STR_OPTIONS.items():
        for value in vals if not quick else vals[:3]:
            out.append(
                Probe(
                    f"option {option}={label(value)}",
                    "tracebacks",
                    "engine",
                    "p_engine:load_embed",
                    {"source": "tiny:bert", "options": {option: enc(value)}},
                    batch=f"opt-{option}",
                )
            )
    for value in NORMALIZE_VALUES if not quick else [10**400, -2, float("nan"), "2"]:
        for model in ("tiny:bert", "default"):
            out.append(
                Probe(
                    f"embed normalize={label(value)} ({model.split(':')[-1]})",
                    "tracebacks" if value != 10**6 else "wrong",
                    "engine",
                    "p_engine:load_embed",
                    {"source": model, "options": {}, "normalize": enc(value)},
                    batch=f"normalize-{model}",
                    seed_default_model=model == "default",
                )
            )
    # Huge values that used to leave contexts behind: the next normal load must work.
    for option, value in (("n_threads", 10**6), ("n_contexts", 10**5), ("n_ctx", 2**31)):
        for model in ("tiny:bert", "tiny:llama"):
            out.append(
                Probe(
                    f"failed load {option}={label(value)} then a normal load ({model[5:]})",
                    "dies",
                    "engine",
                    "p_engine:fail_then_load",
                    {"source": model, "options": {option: enc(value)}},
                    timeout=90,
                    mem_mb=3072,
                )
            )
    out += _crafted(quick)
    out += _quantised(quick)
    return out


def _crafted(quick: bool) -> list[Probe]:
    from .runner_state import FIXTURES

    m = manifest(str(FIXTURES))
    names = sorted(m["crafted"])
    if quick:
        keep = ("vocab-repeat", "pooling-99", "block_count-0", "eps-nan", "truncated-0.5",
                "offset-past-eof", "header-flip-1", "n_ctx_train-4294967295", "dims-half")
        names = [n for n in names if any(n.endswith(k) for k in keep)]
    return [
        Probe(
            f"crafted gguf {name}: {m['crafted'][name]['what']}",
            "dies",
            "engine",
            "p_engine:load_embed",
            {"source": f"crafted:{name}", "options": {}, "crafted": True},
            timeout=45,
            mem_mb=4096,
        )
        for name in names
    ]


def _quantised(quick: bool) -> list[Probe]:
    from .runner_state import FIXTURES

    m = manifest(str(FIXTURES))
    variants: list[tuple[str, dict[str, Any]]] = [
        ("defaults", {}),
        ("1 thread", {"n_threads": 1}),
        ("flash on", {"flash_attn": "on"}),
        ("flash off", {"flash_attn": "off"}),
        ("40 texts", {"$many": 40}),
    ]
    if quick:
        variants = variants[:1]
    out = []
    for key, info in sorted(m["quant"].items()):
        for vname, options in variants:
            out.append(
                Probe(
                    f"quantised {key} ({vname})",
                    "dies",
                    "engine",
                    "p_engine:quantised",
                    {"source": f"quant:{key}", "base": info["base"], "options": options},
                    timeout=90,
                    mem_mb=None,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Child side


def _load(source: str, env: Env, options: dict[str, Any]) -> Any:
    import embed_nb

    return embed_nb.load_model(fixture(env, source), **options)


def load_embed(p: dict[str, Any], env: Env) -> Outcome:
    """Load with the given options, embed one text, and check the vector."""
    import numpy as np

    import embed_nb

    options = decode(p["options"])
    model = _load(p["source"], env, options)
    env.show(repr(model))
    kwargs: dict[str, Any] = {"cache": False}
    if "normalize" in p:
        kwargs["normalize"] = decode(p["normalize"])
    try:
        if getattr(model, "is_reranker", False):
            result = model.rerank("hello world", ["the cat", "a dog"])
            scores = np.array([h.score for h in result])
            if not np.isfinite(scores).all():
                return bad("wrong", f"non-finite rerank scores {scores}")
            return ok("reranked")
        tokens_pooled = getattr(model, "pooling", "") == "none"
        texts: Any = "hello world" if tokens_pooled else ["hello world", "the cat sits"]
        vectors = embed_nb.embed(texts, model=model, **kwargs)
        outcome = check_vectors(vectors, None if tokens_pooled else 2, int(model.n_embd))
        if outcome.outcome != "clean":
            return outcome
        # The normalisation the caller asked for must be the one applied.
        norm = kwargs.get("normalize", 2)
        if norm == 2 and not tokens_pooled:
            lengths = np.linalg.norm(np.asarray(vectors), axis=1)
            if not np.allclose(lengths, 1, atol=1e-3):
                return bad("wrong", f"normalize=2 but row norms are {lengths}")
        return outcome
    finally:
        model.close()


def fail_then_load(p: dict[str, Any], env: Env) -> Outcome:
    """A load with a huge option, then a normal load of the same file: that one must work."""
    import embed_nb

    options = decode(p["options"])
    first = "loaded"
    try:
        _load(p["source"], env, options).close()
    except embed_nb.EmbedNbError as error:
        if "\n" in str(error):
            return bad("traceback", f"multi-line {type(error).__name__}")
        first = f"{type(error).__name__}"
    model = _load(p["source"], env, {})
    outcome = check_vectors(embed_nb.embed(["hello"], model=model, cache=False), 1, None)
    model.close()
    if outcome.outcome != "clean":
        return outcome
    return ok(f"first: {first}; the normal load after it worked")


THRESHOLDS = {"Q8_0": 0.98, "Q4_0": 0.8, "Q4_K": 0.8}


def quantised(p: dict[str, Any], env: Env) -> Outcome:
    """Load a quantised file, embed, compare with the unquantised model's vectors."""
    import numpy as np

    import embed_nb

    options = dict(p["options"])
    many = options.pop("$many", 0)
    texts = manifest(str(env.fixtures))["texts"]
    model = _load(p["source"], env, options)
    if p["base"] == "reranker":
        result = model.rerank(texts[0], texts[1:])
        scores = np.array([h.score for h in result])
        return ok("reranked") if np.isfinite(scores).all() else bad("wrong", f"scores {scores}")
    batch = texts + [f"{t} number {i}" for i in range(many) for t in texts[:1]]
    vectors = np.asarray(embed_nb.embed(batch, model=model, cache=False))
    outcome = check_vectors(vectors, len(batch), None)
    if outcome.outcome != "clean":
        return outcome
    ref = np.load(env.fixtures / "refs" / f"{p['base']}.npy")
    cos = cosine_rows(vectors[: len(ref)], ref)
    qtype = p["source"].rsplit("-", 1)[-1]
    threshold = THRESHOLDS.get(qtype, 0.8) if p["base"] == "default" else 0.5
    if cos.min() < threshold:
        return bad("wrong", f"cosine to the unquantised model {cos.min():.3f} < {threshold}")
    return ok(f"cosine >= {cos.min():.3f}")
