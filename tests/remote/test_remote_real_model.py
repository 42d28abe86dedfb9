"""Parity on the REAL all-MiniLM-L6-v2 (f16 GGUF) with a REAL llama-server.

On the CPU the engine upcasts f16 weights to f32 by default (faster, and more exact); a server
on the f16 file then differs by up to ~2e-4 on L2-normalised vectors. So each comparison runs
on the same weights: the f16 file with ``upcast=False``, or the server on the engine's own f32
copy with the engine's defaults.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from llama_servers import LlamaServer

from embed_nb.datasets import short_texts
from embed_nb.engine import LocalModel
from embed_nb.engine.model import file_fingerprint
from embed_nb.engine.remote import RemoteModel
from embed_nb.engine.weight_copy import weight_copy

pytestmark = pytest.mark.integration

Factory = Callable[..., LlamaServer]
ATOL = 1e-4


def served(server: LlamaServer, inputs: object, mode: int) -> tuple[np.ndarray, int]:
    status, body = server.post(
        "/v1/embeddings", {"input": inputs, "encoding_format": "base64", "embd_normalize": mode}
    )
    assert status == 200, body
    data = sorted(body["data"], key=lambda d: d["index"])
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data]
    return np.stack(rows), body["usage"]["prompt_tokens"]


@pytest.mark.parametrize("flash_attn", ["off", "on"])
@pytest.mark.parametrize("weights", ["f16", "engine-f32"])
def test_the_real_model_matches_the_server_on_the_same_weights(
    weights: str, flash_attn: str, default_model_path: Path, server_factory: Factory
) -> None:
    path = default_model_path
    if weights == "engine-f32":
        served_path = weight_copy(path, file_fingerprint(path), "f32").path
        if served_path is None:
            pytest.skip("the engine does not upcast this model")
        local = LocalModel(path, flash_attn=flash_attn)
    else:
        served_path = path
        local = LocalModel(path, flash_attn=flash_attn, upcast=False)
    # -np 16: every text of a call shares one ubatch, as in the engine (see test_remote_parity).
    server = server_factory(served_path, flash_attn=flash_attn, extra=("-np", "16"))
    texts = [*short_texts(8), "", "hello"]
    with local, RemoteModel(server.url, concurrency=1) as remote:
        for mode in (-1, 2):
            expected, usage = served(server, texts, mode)
            mine, theirs = local.embed(texts, normalize=mode), remote.embed(texts, normalize=mode)
            np.testing.assert_array_equal(np.asarray(theirs), expected)
            diff = np.abs(np.asarray(mine) - expected).max(axis=1)
            # Raw (-1) vectors are held to 1e-4 of their own length, L2 ones to 1e-4 absolute.
            size = np.linalg.norm(expected, axis=1) if mode == -1 else np.ones(len(texts))
            print(
                f"MiniLM {weights} fa={flash_attn} norm={mode}: max |diff| = {diff.max():.2e}"
                f" (relative {(diff / size).max():.2e})"
            )
            assert (diff <= ATOL * size).all()
            assert mine.total_tokens == theirs.total_tokens == usage
        for text in texts[:3]:  # one text per call: the very same decode on both sides
            one, _ = served(server, text, 2)
            assert float(np.abs(np.asarray(local.embed(text)) - one[0]).max()) <= 1e-6
