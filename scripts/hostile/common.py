"""Helpers shared by the child-side probe functions."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from .child import Env, Outcome, bad, ok

#: JSON cannot carry these; probes spell them as {"$": "..."} and :func:`decode` rebuilds them.
SPECIAL = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "big": 10**400,
    "2^63": 2**63,
    "2^64+1": 2**64 + 1,
    "bytes": b"8",
    "tuple": (1, 2),
    "set": {1},
    "object": object(),
}


def enc(value: Any) -> Any:
    """A JSON-safe spelling of a hostile value (see :data:`SPECIAL`)."""
    if isinstance(value, float) and math.isnan(value):
        return {"$": "nan"}
    if isinstance(value, float) and math.isinf(value):
        return {"$": "inf" if value > 0 else "-inf"}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return {"$": {10**400: "big", 2**63: "2^63", 2**64 + 1: "2^64+1"}.get(value, "big")}
    if isinstance(value, bytes):
        return {"$": "bytes"}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$"}:
        return SPECIAL[value["$"]]
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def label(value: Any) -> str:
    """A short name for a value in a probe name."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        return f"{'-' if value < 0 else ''}1e{len(str(abs(value))) - 1}"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


@cache
def manifest(fixtures: str) -> dict[str, Any]:
    return json.loads((Path(fixtures) / "manifest.json").read_text())


def fixture(env: Env, key: str) -> str:
    """A fixture path by key: ``tiny:bert``, ``default``, ``quant:bert-Q8_0``, ``crafted:NAME``."""
    m = manifest(str(env.fixtures))
    kind, _, name = key.partition(":")
    if kind == "tiny":
        return m["tiny"][name]
    if kind == "default":
        return m["default"]
    if kind == "quant":
        return m["quant"][name]["path"]
    if kind == "crafted":
        return m["crafted"][name]["path"]
    if kind == "scaled":
        return m["scaled"]
    return key


def check_vectors(vectors: Any, n: int | None, dim: int | None, what: str = "") -> Outcome:
    """A correct result: a finite float32 array of the right shape."""
    import numpy as np

    array = np.asarray(vectors)
    if array.dtype != np.float32:
        return bad("wrong", f"{what}dtype {array.dtype}, not float32")
    wrong_rows = n is not None and (array.ndim != 2 or array.shape[0] != n)
    if wrong_rows and not (n == 1 and array.ndim == 1):
        return bad("wrong", f"{what}shape {array.shape} for {n} texts")
    if dim is not None and array.shape[-1] != dim:
        return bad("wrong", f"{what}dimension {array.shape[-1]}, the model says {dim}")
    if array.size == 0:
        return bad("wrong", f"{what}an empty result")
    if not np.isfinite(array).all():
        return bad("wrong", f"{what}non-finite values ({int((~np.isfinite(array)).sum())})")
    return ok(f"{what}shape {array.shape}")


def cosine_rows(a: Any, b: Any) -> Any:
    import numpy as np

    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    na = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.where(na == 0, 1, na)


__all__ = ["Env", "Outcome", "bad", "check_vectors", "decode", "enc", "fixture", "ok"]
