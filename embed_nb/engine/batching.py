"""Length-sorted packing of sequences into decodes.

A non-causal model attends over every token in a decode (the mask hides other sequences,
but the work is still done), so the cost of a decode grows with the square of its size.
Packing many short sequences into small decodes keeps matrix products efficient without
paying for attention across the whole batch. Sorting by length first keeps decodes even.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_decodes(lengths: Sequence[int], token_budget: int, max_sequences: int) -> list[list[int]]:
    """Group sequence indices into decodes of at most ``token_budget`` tokens.

    A sequence longer than the budget gets a decode of its own (the caller has already
    checked it fits the context). No decode holds more than ``max_sequences`` sequences.
    Longest first, so the largest decodes run while a progress bar still has time to say so.
    """
    if token_budget < 1 or max_sequences < 1:
        raise ValueError("token_budget and max_sequences must be positive")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    decodes: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i in order:
        n = lengths[i]
        if current and (used + n > token_budget or len(current) == max_sequences):
            decodes.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        decodes.append(current)
    return decodes
