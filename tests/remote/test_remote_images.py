"""Images through a real ``llama-server --mmproj``: the same vectors as the kernel's projector.

The tiny llama and LLaVA-style projector (tests/tiny_models.py, tests/tiny_vision.py) have
random weights, so these checks are mechanical: the same text (prompt, the server's random
media marker, caption or a newline), the same pixels, the same pooling and normalisation give
the same vector in the kernel and on the server. Both sides run with f32 KV and no flash
attention, and the server with one slot, so each image is decoded alone, as in the kernel.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import embed_nb
from embed_nb.engine.remote import RemoteModel
from embed_nb.engine.remote import _media as media_wire
from embed_nb.errors import InvalidInputError
from embed_nb.media import Audio, Image, decode_media

EXACT = ("-c", "128", "-b", "128", "-ub", "128", "-ctk", "f32", "-ctv", "f32", "-np", "1")


def _pixels(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _inputs() -> list[Any]:
    return [
        Image(_pixels(1, 20, 30), text=" a red square"),
        "a plain text between images",
        Image(_pixels(2, 64, 48)),  # no caption: a newline follows it on both sides
        Image(_pixels(3, 9, 13), text=" tiny"),
    ]


@pytest.fixture(scope="module")
def vision_server(server_factory: Any, vision_files: dict[str, Path]) -> Any:
    def start(pooling: str) -> Any:
        extra = ("--mmproj", str(vision_files["mmproj"]), *EXACT)
        return server_factory(vision_files[pooling], pooling=pooling, extra=extra)

    return start


def _props(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/props", timeout=30) as response:
        return dict(json.loads(response.read()))


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_server_vectors_equal_the_kernels(
    vision_server: Any, vision_files: dict[str, Path], pooling: str
) -> None:
    server = vision_server(pooling)
    local = embed_nb.load_model(
        vision_files[pooling], mmproj=vision_files["mmproj"], pooling=pooling
    )
    with RemoteModel(server.url) as remote:
        assert remote.info.modalities == ("text", "image")
        assert remote.media_fingerprint
        # This llama-server's /v1/embeddings takes OpenAI content parts: media go that way.
        assert remote._media.route == media_wire.CONTENT_PARTS
        got = remote.embed(_inputs())
        want = local.embed(_inputs())
        assert got.vectors is not None and want.vectors is not None
        assert got.vectors.shape == want.vectors.shape == (4, local.n_embd)
        diff = float(np.abs(got.vectors - want.vectors).max())
        assert diff <= 1e-4, diff
        print(f"pooling {pooling}: max abs diff {diff}")
        assert np.allclose(np.linalg.norm(got.vectors, axis=1), 1.0, atol=1e-5)
        assert got.token_counts == want.token_counts  # text and image tokens alike
        assert got.media is not None and got.media[1] is None
        assert got.media[0] is not None and got.media[0].caption == " a red square"
        # One image alone gives one (d,) vector, as a single text does.
        one = remote.embed(Image(_pixels(1, 20, 30), text=" a red square"))
        assert one.vectors is not None and one.vectors.shape == (local.n_embd,)
        assert np.array_equal(one.vectors, got.vectors[0])
    local.close()


def test_a_server_with_several_slots_gives_the_kernels_vectors(
    server_factory: Any, vision_files: dict[str, Path]
) -> None:
    """Images go one request at a time: with several in flight on a multi-slot server, its
    batches mix slots and a caption can be split across two of them, and llama-server pools
    only the last (seen: up to 1.6e-2 off)."""
    slots = ("-c", "512", "-b", "128", "-ub", "128", "-ctk", "f32", "-ctv", "f32", "-np", "4")
    extra = ("--mmproj", str(vision_files["mmproj"]), *slots)
    server = server_factory(vision_files["mean"], pooling="mean", extra=extra)
    images = [Image(_pixels(10 + i, 24, 24), text=" a caption of several words") for i in range(24)]
    local = embed_nb.load_model(vision_files["mean"], mmproj=vision_files["mmproj"], pooling="mean")
    with RemoteModel(server.url, concurrency=4) as remote:
        got = remote.embed(images).vectors
    want = local.embed(images).vectors
    assert got is not None and want is not None
    assert float(np.abs(got - want).max()) <= 1e-4
    local.close()


def test_a_raw_embedding_request_gives_the_same_vector(
    vision_server: Any, vision_files: dict[str, Path]
) -> None:
    """Our own POST /embedding (multimodal_data, the marker from /props) against what
    RemoteModel makes of the same image, by either route."""
    server = vision_server("mean")
    media = decode_media(Image(_pixels(4, 33, 21), text=" a caption"))
    marker = _props(server.url)["media_marker"]
    assert marker.startswith("<__media_")
    png = base64.b64encode(media.png_bytes()).decode()
    status, body = server.post(
        "/embedding",
        {"content": {"prompt_string": marker + " a caption", "multimodal_data": [png]}},
    )
    assert status == 200, body
    raw = np.asarray(body[0]["embedding"][0], dtype=np.float32)
    with RemoteModel(server.url) as remote:
        by_parts = remote.embed(Image(_pixels(4, 33, 21), text=" a caption")).vectors
        remote._media = dataclasses.replace(remote._media, route=media_wire.LEGACY)
        by_legacy = remote.embed(Image(_pixels(4, 33, 21), text=" a caption")).vectors
        assert by_parts is not None and by_legacy is not None
        assert float(np.abs(by_parts - raw).max()) <= 1e-6
        assert float(np.abs(by_legacy - raw).max()) <= 1e-6


def test_refusals_leave_the_model_working(
    vision_server: Any, server_factory: Any, vision_files: dict[str, Path]
) -> None:
    server = vision_server("mean")
    image = _pixels(5, 16, 16)
    with RemoteModel(server.url) as remote:
        want = remote.embed(["a text", Image(image)]).vectors
        marker = remote._media.marker
        for caption in (f"see {marker}", "see <__media__>"):
            with pytest.raises(InvalidInputError, match="marker") as error:
                remote.embed([Image(image, text=caption)])
            assert "\n" not in str(error.value)
        sine = np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)).astype(np.float32)
        with pytest.raises(InvalidInputError, match="takes images only"):
            remote.embed(["a text", Audio(sine, sample_rate=16000)])
        with pytest.raises(InvalidInputError, match="truncate and chunk"):
            remote.embed([Image(image)], truncate=True)
        assert np.array_equal(remote.embed(["a text", Image(image)]).vectors, want)

    with RemoteModel(server.url + "/v1", kind="openai") as openai:
        assert openai.info.modalities == ("text",)
        with pytest.raises(InvalidInputError, match="kind='llama-server'"):
            openai.embed([Image(image)])
        assert openai.embed("a text").vectors is not None

    plain = server_factory(vision_files["mean"], pooling="mean", extra=EXACT)
    with RemoteModel(plain.url) as text_only:
        assert text_only.info.modalities == ("text",)
        assert text_only.media_fingerprint == ""
        with pytest.raises(InvalidInputError, match="--mmproj") as error:
            text_only.embed(["a text", Image(image)])
        assert "\n" not in str(error.value)
        assert text_only.embed("a text").vectors is not None
