"""Thumbnails in ProjectionView and in a search result's HTML: made in the kernel, sent as
binary on request, cached; text points have none; bad requests and bad images refused."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import numpy as np
import pytest
from synthetic_images import COLOURS, collection, draw

from embed_nb.errors import InvalidInputError
from embed_nb.rankings import SearchHit, SearchResult
from embed_nb.widgets import ProjectionView
from embed_nb.widgets._thumbnails import MAX_THUMBS_PER_REQUEST

pytest.importorskip("embed_nb.media", reason="embed_nb.media is not there yet")
Image = pytest.importorskip("PIL.Image")


def _view(n_text: int = 2, **kwargs: Any) -> tuple[ProjectionView, list[Any]]:
    """40 image points then ``n_text`` text points (None images)."""
    images, vectors, captions, _ = collection(40)
    rng = np.random.default_rng(1)
    texts_vectors = rng.normal(size=(n_text, vectors.shape[1])).astype(np.float32)
    all_images: list[Any] = [*images, *([None] * n_text)]
    view = ProjectionView(
        np.vstack([vectors, texts_vectors]),
        [*captions, *[f"text {i}" for i in range(n_text)]],
        images=all_images,
        umap=False,
        **kwargs,
    )
    return view, all_images


def _ask(view: ProjectionView, ids: Any) -> tuple[dict[str, Any], list[bytes]]:
    """Send a ``thumbs`` request as the front end does; return the reply and its buffers."""
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    view.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    view._dispatch(view, {"kind": "thumbs", "req": 7, "ids": ids}, [])
    assert len(sent) == 1 and sent[0][0]["req"] == 7 and sent[0][0]["kind"] == "thumbs"
    return sent[0]


def _mean_colour(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as picture:
        pixels = np.asarray(picture.convert("RGB"), dtype=np.float32)
    # The shape's pixels: those clearly darker than the near-white background.
    shape = pixels[pixels.sum(axis=2) < 600]
    return shape.mean(axis=0)


def test_image_points_get_jpeg_bytes_of_their_own_picture() -> None:
    view, images = _view()
    reply, buffers = _ask(view, [0, 1, 2])
    assert reply["ids"] == [0, 1, 2] and "error" not in reply
    assert reply["types"] == ["image/jpeg"] * 3
    assert len(buffers) == 3
    for index, data in zip([0, 1, 2], buffers, strict=True):
        assert data[:3] == b"\xff\xd8\xff"
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == "JPEG" and max(picture.size) <= 128
        # The thumbnail is of this point's picture: its shape has the point's colour.
        colour = np.array(images[index][32, 32], dtype=np.float32)
        assert np.abs(_mean_colour(data) - colour).max() < 40
    assert bytes(buffers[0]) == view.thumbnail(0)


def test_text_points_get_no_thumbnail() -> None:
    view, _ = _view(n_text=2)
    reply, buffers = _ask(view, [40, 3, 41])
    assert reply["types"] == ["", "image/jpeg", ""]
    assert len(buffers) == 1 and buffers[0][:3] == b"\xff\xd8\xff"
    assert view.thumbnail(41) is None
    mask = np.asarray(view.image_mask)
    assert mask.tolist() == [1] * 40 + [0, 0]


@pytest.mark.parametrize("ids", [[42], [-1], [10**9], [1.5], ["3"], [True], "0,1"])
def test_out_of_range_or_malformed_ids_are_refused(ids: Any) -> None:
    view, _ = _view(n_text=2)
    reply, buffers = _ask(view, ids)
    assert "error" in reply and "\n" not in reply["error"] and buffers == []
    # The view keeps working afterwards.
    reply, buffers = _ask(view, [0])
    assert reply["types"] == ["image/jpeg"] and len(buffers) == 1
    with pytest.raises(InvalidInputError, match="out of range"):
        view.thumbnail(42)


def test_thumbnails_are_made_once_and_cached() -> None:
    view, _ = _view()
    first = _ask(view, [5, 6])[1]
    assert view._thumbs.made == 2
    again = _ask(view, [6, 5, 6])[1]
    assert view._thumbs.made == 2  # served from the cache
    assert [bytes(b) for b in again] == [bytes(first[1]), bytes(first[0]), bytes(first[1])]


def test_a_request_is_capped() -> None:
    images = [draw("red", "disc", size=16)] * 100
    vectors = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    view = ProjectionView(vectors, images=images, umap=False)
    reply, buffers = _ask(view, list(range(100)))
    assert len(reply["ids"]) == len(buffers) == MAX_THUMBS_PER_REQUEST


def test_a_picture_that_cannot_be_read_is_a_dot_not_a_crash() -> None:
    images: list[Any] = [draw("blue", "square"), b"\x89PNG\r\n\x1a\n not really a png"]
    vectors = np.eye(2, 3, dtype=np.float32) + 0.1
    view = ProjectionView(vectors, images=images, umap=False)
    reply, buffers = _ask(view, [1, 0])
    assert reply["types"] == ["", "image/jpeg"] and len(buffers) == 1
    assert "1" in reply["errors"] and "\n" not in reply["errors"]["1"]


@pytest.mark.parametrize("count", [39, 41])
def test_wrong_number_of_images_is_refused(count: int) -> None:
    images, vectors, _, _ = collection(40)
    pictures = (images * 2)[:count]
    with pytest.raises(InvalidInputError, match=f"{count} images for 40 points") as info:
        ProjectionView(vectors, images=pictures, umap=False)
    assert "\n" not in str(info.value)


def test_something_that_is_not_an_image_is_refused() -> None:
    images, vectors, _, _ = collection(40)
    with pytest.raises(InvalidInputError, match=r"images\[3\]"):
        ProjectionView(vectors, images=[*images[:3], 3.5, *images[4:]], umap=False)
    with pytest.raises(InvalidInputError, match="thumbnails must be True or False"):
        ProjectionView(vectors, images=images, umap=False, thumbnails="yes")  # type: ignore[arg-type]


def test_images_default_to_the_embeddings_media() -> None:
    from embed_nb import media
    from embed_nb.results import Embeddings

    images, vectors, captions, _ = collection(10)
    decoded = (*(media.decode_media(image) for image in images[:9]), None)
    result = Embeddings(
        vectors=vectors,
        texts=captions,
        token_counts=[1] * 10,
        model="synthetic",
        fingerprint="f",
        pooling="mean",
        normalize=2,
        media=decoded,
    )
    view = ProjectionView(result, umap=False, thumbnails=True)
    assert view.thumbnails is True
    assert np.asarray(view.image_mask).tolist() == [1] * 9 + [0]
    assert view.thumbnail(2)[:3] == b"\xff\xd8\xff"  # type: ignore[index]
    assert view.thumbnail(9) is None


def test_a_view_without_images_has_no_mask() -> None:
    view = ProjectionView(np.eye(3, 4, dtype=np.float32) + 0.1, umap=False)
    assert view.image_mask is None
    reply, buffers = _ask(view, [0, 1])
    assert reply["types"] == ["", ""] and buffers == []


def test_search_result_html_shows_inline_thumbnails_of_image_hits() -> None:
    red, blue = draw("red", "disc"), draw("blue", "cross")
    hits = [
        SearchHit(1, 4, "a red disc", 0.9, media=red),
        SearchHit(2, 7, '<script>alert("x")</script>', 0.8, media=None),
        SearchHit(3, 9, "a blue cross", 0.7, media=blue),
    ]
    result = SearchResult("red", list(hits), "m", 12)
    page = result._repr_html_()
    uris = re.findall(r"<img src='data:image/jpeg;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(uris) == 2  # one per image hit, none for the text hit
    assert np.abs(_mean_colour(base64.b64decode(uris[0])) - COLOURS["red"]).max() < 40
    assert np.abs(_mean_colour(base64.b64decode(uris[1])) - COLOURS["blue"]).max() < 40
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page  # nothing for the browser to fetch


def test_search_result_html_without_media_is_unchanged() -> None:
    hits = [SearchHit(1, 0, "plain text", 0.5)]
    page = SearchResult("q", hits, "m", 3)._repr_html_()
    assert "<img" not in page and "plain text" in page


def test_embed_map_magic_passes_thumbnails_and_the_embeddings_media(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, bert_mean_path: Any
) -> None:
    from magic_shell import configured, magic_shell, run

    from embed_nb import media
    from embed_nb.results import Embeddings
    from embed_nb.widgets._base import STATIC_DIR

    if not (STATIC_DIR / "projection.js").is_file():
        pytest.skip("the widget bundle is not built (npm run build in js/)")
    images, vectors, captions, _ = collection(5)
    result = Embeddings(
        vectors=vectors,
        texts=captions,
        token_counts=[1] * 5,
        model="synthetic",
        fingerprint="f",
        pooling="mean",
        normalize=2,
        media=tuple(media.decode_media(image) for image in images),
    )
    with configured(magic_shell(), tmp_path, monkeypatch, bert_mean_path, E=result) as ip:
        view = run(ip, "%embed_map E --thumbnails")
        assert isinstance(view, ProjectionView) and view.thumbnails is True
        assert np.asarray(view.image_mask).tolist() == [1] * 5
        assert run(ip, "%embed_map E").thumbnails is False
