"""Which weights the engine loads for a precision, and how Model.info says what it got.

``exact`` (the default) loads an f32 copy of f16/bf16 weights on a CPU (see
:mod:`.weight_copy`), and the file as it is elsewhere. ``fast`` loads a bf16 copy of the
weight matrices on a CPU whose llama.cpp build has bf16 dot products (measured on
all-MiniLM-L6-v2, Zen 4 with AVX512_BF16: about 1.6x the f32 copy's texts/s, min cosine
0.99997 to it over a few hundred real texts; Q8_0 was only 1.1x faster at min cosine 0.998,
too lossy for the bar of 0.9998). Without bf16 dot products a bf16 matrix is slower than an
f32 one, so ``fast`` is then ``exact``; on a GPU both load the file as it is.

Light on purpose (no numpy, no llama.cpp): :mod:`embed_nb.flags` reads :data:`PRECISIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .weight_copy import CopyName

__all__ = ["PRECISIONS", "WeightsPlan", "describe_precision", "plan_weights"]

#: The values of the ``precision`` option; the first is the default.
PRECISIONS = ("exact", "fast")


@dataclass(frozen=True)
class WeightsPlan:
    """The weight copy to load (None: the file as it is), and why ``fast`` became ``exact``."""

    copy: CopyName | None
    fast_is_exact_because: str = ""


def plan_weights(
    precision: str, upcast: bool | None, *, copy_weights: bool, cpu_bf16: bool
) -> WeightsPlan:
    """The weights for a load.

    Args:
        precision: ``exact`` or ``fast`` (checked before).
        upcast: the user's ``upcast``: True an f32 copy, False the file as it is, None the
            device's default (``copy_weights``). ``upcast=True`` with ``fast`` is refused
            before this is called.
        copy_weights: whether the device's defaults load a CPU weight copy (not on a GPU).
        cpu_bf16: whether the llama.cpp CPU build has bf16 dot products.
    """
    fast = precision == "fast"
    if upcast is False:
        return WeightsPlan(None, "upcast=False keeps the file's own weights" if fast else "")
    if upcast is None and not copy_weights:
        return WeightsPlan(None, "the GPU runs the file's own weights" if fast else "")
    if fast and cpu_bf16:
        return WeightsPlan("bf16")
    return WeightsPlan("f32", "this CPU has no bf16 dot product" if fast else "")


def describe_precision(precision: str, plan: WeightsPlan, loaded: str | None, why: str) -> str:
    """What a precision became, for Model.info: ``fast (bf16 copy)``, ``exact (f32 copy)``,
    ``fast = exact (f32 copy): this CPU has no bf16 dot product``...

    Args:
        loaded: the copy actually loaded ("f32", "bf16"), None for the file as it is.
        why: why the planned copy was not made (quantised weights...), "" if it was.
    """
    what = f"{loaded} copy" if loaded else "the file as it is"
    if precision == "fast" and loaded != "bf16":
        return f"fast = exact ({what}): {plan.fast_is_exact_because or why}"
    return f"{precision} ({what})"
