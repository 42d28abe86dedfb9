"""EmbedRequest, and cache keys that stay what they were before the request existed."""

from __future__ import annotations

import dataclasses

import pytest

from embed_nb.cache import cache_key
from embed_nb.errors import InvalidInputError
from embed_nb.request import EmbedRequest

# Computed with the cache_key of the commit before EmbedRequest (3ada2f2): if one changes, every
# user's cache misses once. Do not update them to make a test pass.
FIXED = [
    (("fp", "mean", 2, "text"), {}, "969a278f1e4a854566f7d878782d4bfa63256ed5"),
    (("fp", "none", -1, "tokens"), {}, "a93f33e097204db0c0de76b09cde959818e32bd2"),
    (("abc123", "cls", 1, "héllo \ud800"), {}, "912e004a4f73d769110d0b6953d3a0a288a4a1dd"),
    (
        ("fp", "mean", 2, "text"),
        {"truncate": True, "max_tokens": 512},
        "5d57949a833b488e4f0c38930af2c441aa9bb70a",
    ),
    (
        ("fp", "mean", 2, "text"),
        {"chunk": True, "max_tokens": 256},
        "4a5723493d18a2ff20774ea1d125375aa37b681f",
    ),
    (
        ("fp", "mean", 0, ""),
        {"truncate": True, "max_tokens": None},
        "fde51ecec264af1c1158f1ab28699e42dae39a66",
    ),
    (("fp", "mean", 2, "text"), {"max_tokens": 512}, "969a278f1e4a854566f7d878782d4bfa63256ed5"),
]


@pytest.mark.parametrize(("args", "options", "expected"), FIXED)
def test_cache_keys_are_the_ones_made_before_the_request(
    args: tuple[str, str, int, str], options: dict[str, object], expected: str
) -> None:
    fingerprint, pooling, normalize, text = args
    assert cache_key(fingerprint, pooling, normalize, text, **options) == expected  # type: ignore[arg-type]
    max_tokens = options.pop("max_tokens", None)
    request = EmbedRequest(normalize=normalize, **options)  # type: ignore[arg-type]
    assert cache_key(fingerprint, pooling, request, text, max_tokens=max_tokens) == expected  # type: ignore[arg-type]


def test_a_request_is_a_frozen_value() -> None:
    request = EmbedRequest(normalize=1, chunk=True)
    same = EmbedRequest(1, False, True)
    assert request == same and hash(request) == hash(same)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.normalize = 2  # type: ignore[misc]
    assert request.options() == {"normalize": 1, "truncate": False, "chunk": True}
    assert request.mode == "chunk" and EmbedRequest().mode == "strict"


def test_truncate_and_chunk_together_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        EmbedRequest(truncate=True, chunk=True)


def test_for_pooling_checks_normalize_and_gives_none_pooling_no_normalisation() -> None:
    assert EmbedRequest(normalize=2).for_pooling("none").normalize == -1
    assert EmbedRequest(normalize=1).for_pooling("mean").normalize == 1
    with pytest.raises(InvalidInputError):
        EmbedRequest(normalize=-2).for_pooling("mean")


def test_a_later_option_changes_the_key_only_when_set() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithPrompt(EmbedRequest):
        prompt: str = ""

    base = cache_key("fp", "mean", EmbedRequest(), "text")
    assert cache_key("fp", "mean", WithPrompt(), "text") == base
    assert cache_key("fp", "mean", WithPrompt(prompt="query: "), "text") != base
