"""Images through a multimodal projector in the kernel: semantics, bad input, the cache.

The model is a tiny llama decoder and a tiny LLaVA-style projector (tests/tiny_vision.py) with
random weights, so these checks are mechanical: the vectors mean nothing, but every path
(marker, bitmap, encode, decode, pool, normalise) runs through llama.cpp as a real model's
does. Parity with a real ``llama-server --mmproj`` is in tests/remote/test_remote_images.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import embed_nb
from embed_nb import InvalidInputError
from embed_nb.cache import EmbeddingCache
from embed_nb.engine import LocalModel
from embed_nb.engine.normalize import normalize
from embed_nb.errors import EmbedNbError, InputTooLongError, ModelLoadError
from embed_nb.media import Audio, Image
from tests.tiny_vision import write_tiny_mmproj

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def files(
    vision_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vision")
    return {
        **vision_files,
        "other_mmproj": write_tiny_mmproj(root / "mmproj-other.gguf", seed=99),
        "wide_mmproj": write_tiny_mmproj(root / "mmproj-64.gguf", text_n_embd=64),
    }


@pytest.fixture(scope="module")
def vision(files: dict[str, Path]) -> LocalModel:
    return LocalModel(files["mean"], mmproj=files["mmproj"], n_threads=2)


@pytest.fixture(scope="module")
def text_only(files: dict[str, Path]) -> LocalModel:
    return LocalModel(files["mean"], n_threads=2)


def pixels(seed: int, shape: tuple[int, ...] = (24, 40, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PIL.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def still_works(model: LocalModel, reference: np.ndarray) -> None:
    """After a refusal the model embeds an image and a text exactly as before."""
    again = model.embed([Image(pixels(1), text="a caption"), "hello"])
    np.testing.assert_array_equal(again.vectors, reference)


@pytest.fixture(scope="module")
def reference(vision: LocalModel) -> np.ndarray:
    result = vision.embed([Image(pixels(1), text="a caption"), "hello"])
    assert result.vectors is not None
    return result.vectors


# --- what it embeds -------------------------------------------------------------------------


def test_info_says_it_embeds_images(vision: LocalModel, text_only: LocalModel) -> None:
    assert vision.info.modalities == ("text", "image")
    assert vision.info.projector.endswith("mmproj.gguf")
    assert "image" in repr(vision.info)
    assert text_only.info.modalities == ("text",)


def test_texts_are_embedded_as_without_a_projector(
    vision: LocalModel, text_only: LocalModel
) -> None:
    texts = ["the cat sat on the mat", "hello world"]
    np.testing.assert_array_equal(vision.embed(texts).vectors, text_only.embed(texts).vectors)


def test_mixed_inputs_keep_their_order(vision: LocalModel) -> None:
    image, text = Image(pixels(2), text="a dog"), "a cat"
    mixed = vision.embed([text, image, text])
    assert mixed.vectors is not None and mixed.media is not None
    assert mixed.media[0] is None and mixed.media[1] is not None and mixed.media[2] is None
    assert mixed.texts[1].startswith("image 40×24")
    np.testing.assert_array_equal(mixed.vectors[1], vision.embed(image).vectors)
    np.testing.assert_array_equal(mixed.vectors[0], vision.embed(text).vectors)
    # BOS, 16 patches of the 32x32 image, then the caption's tokens.
    assert mixed.token_counts[1] == 1 + 16 + len(vision.tokenize(" a dog", add_special=False))


def test_a_captionless_image_is_followed_by_a_newline(vision: LocalModel) -> None:
    bare = vision.embed(pixels(3))
    newline = vision.embed(Image(pixels(3), text="\n"))
    np.testing.assert_array_equal(bare.vectors, newline.vectors)


def test_every_way_to_give_the_same_pixels_gives_the_same_vector(
    vision: LocalModel, tmp_path: Path
) -> None:
    array = pixels(4)
    path = tmp_path / "picture.png"
    path.write_bytes(png(array))
    ways = [array, path, Image(str(path)), png(array), PIL.open(path), Image(array)]
    vectors = np.stack([vision.embed(way).vectors for way in ways])
    assert (vectors == vectors[0]).all()


@pytest.mark.parametrize("mode", [-1, 0, 1, 2, 3])
def test_images_are_normalised_as_texts_are(vision: LocalModel, mode: int) -> None:
    raw = vision.embed(Image(pixels(5), text="x"), normalize=-1).vectors
    assert raw is not None
    given = vision.embed(Image(pixels(5), text="x"), normalize=mode).vectors
    np.testing.assert_allclose(given, normalize(raw[None, :], mode)[0], rtol=1e-6, atol=1e-6)


def test_last_pooling_pools_the_last_token(files: dict[str, Path]) -> None:
    last = LocalModel(files["last"], mmproj=files["mmproj"], n_threads=2)
    # The last token is the caption's last: the same after other caption words differ only
    # through attention, so two captions ending alike still give different vectors.
    a = last.embed(Image(pixels(6), text="one two")).vectors
    b = last.embed(Image(pixels(7), text="one two")).vectors
    assert a is not None and b is not None and not np.allclose(a, b)
    assert last.info.pooling == "last"
    last.close()


def test_an_image_query_searches_texts_and_images(vision: LocalModel) -> None:
    corpus = ["a cat", Image(pixels(8)), "a dog", Image(pixels(9))]
    found = embed_nb.search(Image(pixels(8)), corpus, k=4, model=vision, cache=False)
    assert found.hits[0].index == 1 and found.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert found.hits[0].media is not None and found.query.startswith("image")
    assert found.query_media is not None


# --- bad input: one clear line, and the model keeps working --------------------------------


def _bomb_png(side: int) -> bytes:
    """A valid 1x1 PNG whose header claims side x side pixels (nothing big is written)."""
    small = png(np.zeros((1, 1, 3), np.uint8))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        small[:8]
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + small[33:]
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", "does not exist|no such|not found"),
        (lambda d: d, "directory|folder"),
        (lambda d: _write(d / "empty.png", b""), "empty|zero|0 bytes"),
        (lambda d: _write(d / "corrupt.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 200), "readable"),
        (lambda d: _write(d / "cut.png", png(pixels(1))[:60]), "readable|truncated"),
        (lambda d: _write(d / "bomb.png", _bomb_png(30_000)), "bomb|pixels"),
        (lambda d: _write(d / "doc.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"), "PDF"),
        (lambda d: _write(d / "notes.txt", b"just some words\n"), "text"),
    ],
    ids=["missing", "directory", "empty", "corrupt", "truncated", "bomb", "pdf", "text"],
)
def test_bad_files_are_refused_in_one_line(
    vision: LocalModel, reference: np.ndarray, tmp_path: Path, make: object, message: str
) -> None:
    bad = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(InvalidInputError, match=message) as caught:
        vision.embed(["fine", Path(bad)])
    assert "\n" not in str(caught.value)
    still_works(vision, reference)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "I;16", "P"])
def test_other_image_modes_are_converted(vision: LocalModel, tmp_path: Path, mode: str) -> None:
    picture = PIL.fromarray(pixels(10)).convert(mode)
    path = tmp_path / f"picture-{mode.replace(';', '')}.png"
    picture.save(path)
    vector = vision.embed(path).vectors
    assert vector is not None and np.isfinite(vector).all()


def test_a_text_only_model_refuses_an_image(text_only: LocalModel) -> None:
    with pytest.raises(InvalidInputError, match=r"without a projector.*mmproj"):
        text_only.embed(["a text", pixels(1)])
    assert text_only.embed("a text").vectors is not None


def test_audio_to_an_image_only_projector_is_refused(
    vision: LocalModel, reference: np.ndarray
) -> None:
    clip = Audio(np.zeros(16000, np.float32), sample_rate=16000)
    with pytest.raises(InvalidInputError, match="takes images only"):
        vision.embed(["a text", clip])
    still_works(vision, reference)


@pytest.mark.parametrize("marker", ["<__media__>", "<__media__> twice <__media__>"])
def test_a_caption_holding_the_marker_is_refused(
    vision: LocalModel, reference: np.ndarray, marker: str
) -> None:
    with pytest.raises(InvalidInputError, match="media marker"):
        vision.embed(Image(pixels(1), text=f"look {marker}"))
    still_works(vision, reference)


def test_a_caption_past_the_context_is_too_long(vision: LocalModel, reference: np.ndarray) -> None:
    with pytest.raises(InputTooLongError):
        vision.embed(Image(pixels(1), text=" word" * 400))
    still_works(vision, reference)


def test_truncate_and_chunk_are_for_texts(vision: LocalModel) -> None:
    with pytest.raises(InvalidInputError, match="texts only"):
        vision.embed(pixels(1), truncate=True)


# --- bad projector files: refused before llama.cpp could abort -------------------------------


def test_a_projector_for_another_width_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="mismatch") as caught:
        LocalModel(files["mean"], mmproj=files["wide_mmproj"], n_threads=2)
    assert "\n" not in str(caught.value)


def test_a_text_model_is_not_a_projector(files: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="not 'clip'"):
        LocalModel(files["mean"], mmproj=files["last"], n_threads=2)


def test_a_truncated_projector_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut-mmproj.gguf"
    cut.write_bytes(files["mmproj"].read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="truncated"):
        LocalModel(files["mean"], mmproj=cut, n_threads=2)


@pytest.mark.parametrize("pooling", ["none", "rank"])
def test_a_projector_needs_a_pooled_model(files: dict[str, Path], pooling: str) -> None:
    with pytest.raises(EmbedNbError, match="pool"):
        LocalModel(files["mean"], mmproj=files["mmproj"], pooling=pooling, n_threads=2)


def test_mmproj_must_be_a_path(files: dict[str, Path]) -> None:
    with pytest.raises(InvalidInputError, match="mmproj must be a path"):
        LocalModel(files["mean"], mmproj=b"mmproj.gguf", n_threads=2)  # type: ignore[arg-type]


# --- the cache ---------------------------------------------------------------------------


def test_the_cache_keys_on_pixels_caption_and_projector(
    files: dict[str, Path], vision: LocalModel, tmp_path: Path
) -> None:
    store = EmbeddingCache(tmp_path / "cache")
    path = tmp_path / "a.png"
    path.write_bytes(png(pixels(11)))
    first = embed_nb.embed([path, Image(path, text="cap")], model=vision, cache=store)
    assert first.extra["cache_hits"] == 0
    # The same pixels from an array and a renamed copy: hits; the caption is part of the key.
    copy = tmp_path / "b.png"
    copy.write_bytes(path.read_bytes())
    again = embed_nb.embed([pixels(11), Image(copy, text="cap")], model=vision, cache=store)
    assert again.extra["cache_hits"] == 2
    np.testing.assert_array_equal(again.vectors, first.vectors)
    other = embed_nb.embed(Image(path, text="other"), model=vision, cache=store)
    assert other.extra["cache_hits"] == 0
    # Another projector on the same text model: images miss, texts still hit.
    swapped = LocalModel(files["mean"], mmproj=files["other_mmproj"], n_threads=2)
    mixed = embed_nb.embed([path, "a text"], model=swapped, cache=store)
    embed_nb.embed(["a text"], model=vision, cache=store)
    assert mixed.extra["cache_hits"] == 0
    assert embed_nb.embed(["a text"], model=swapped, cache=store).extra["cache_hits"] == 1
    swapped.close()
    store.close()
