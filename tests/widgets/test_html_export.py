"""widget.to_html(path): one offline HTML file holding the bundle, the state and the texts."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed_nb.datasets import stdlib_docs
from embed_nb.errors import EmbedNbError, FileAccessError, InvalidInputError
from embed_nb.vectors import nearest_rows
from embed_nb.widgets import ProjectionView, RerankList, SimilarityMatrix
from embed_nb.widgets.html_export import script_json

HOSTILE = "</script><script>window.__pwned = 1</script><!--<script>"


def _page(path: Path) -> tuple[str, dict[str, Any], bytes]:
    """The page's text, its JSON index and its decompressed blob."""
    page = path.read_text(encoding="utf-8")
    meta_text = re.search(
        r'<script type="application/json" id="enb-meta">(.*?)</script>', page, re.S
    )
    blob_text = re.search(r'id="enb-blob">([A-Za-z0-9+/=]*)</script>', page)
    assert meta_text and blob_text
    return (
        page,
        json.loads(meta_text.group(1)),
        gzip.decompress(base64.b64decode(blob_text.group(1))),
    )


def _part(blob: bytes, where: list[int]) -> bytes:
    return blob[where[0] : where[0] + where[1]]


def _vectors(n: int, d: int = 16) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)


def test_projection_page_holds_state_texts_and_neighbours(tmp_path: Path) -> None:
    texts = [f"point {i}" for i in range(299)] + [HOSTILE]
    view = ProjectionView(_vectors(300), texts, labels=["a", HOSTILE] * 150, umap=False)
    path = view.to_html(tmp_path / "map.html")
    page, meta, blob = _page(path)
    # Every synced trait of the widget is in the page (a trait added later needs no change).
    synced = {name for name in view.keys if not name.startswith("_")} - {
        "layout",
        "tabbable",
        "tooltip",
    }
    exported = set(meta["state"]) | {p[0] for p in meta["buffer_paths"]}
    assert synced <= exported
    positions = meta["parts"]["buffers"][meta["buffer_paths"].index(["positions"])]
    got = np.frombuffer(_part(blob, positions), np.float32)
    np.testing.assert_array_equal(got, view.layout.T.reshape(-1))
    offline = json.loads(_part(blob, meta["parts"]["offline"]))
    assert offline["texts"] == texts
    # Precomputed neighbours equal what the kernel answers on a click.
    k = offline["reactions"]["focused"]["width"]
    spec = meta["tables"]["neighbor_ids"]
    ids = np.frombuffer(_part(blob, spec["part"]), np.uint32).reshape(300, k)
    np.testing.assert_array_equal(ids[7], view.nearest(7, k)[0])
    # The hostile label cannot end the script element, and nothing points off the page.
    assert page.count("<script") == 3 and "</script><script>window" not in page
    assert HOSTILE in meta["state"]["category_names"]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "Content-Security-Policy" in page


def test_script_json_escapes_markup() -> None:
    text = script_json({"a": HOSTILE, "b": "&<>"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": HOSTILE, "b": "&<>"}


def test_nearest_rows_matches_brute_force() -> None:
    unit = _vectors(50)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    ids, scores = nearest_rows(unit, 4, block=7)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    expected = np.argsort(-sims, axis=1)[:, :4]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), rtol=1e-6)


def test_large_projection_has_no_neighbour_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embed_nb.widgets import _offline

    monkeypatch.setattr(_offline, "OFFLINE_NEIGHBOR_POINTS", 100)
    view = ProjectionView(_vectors(200), [f"t{i}" for i in range(200)], umap=False)
    _, meta, blob = _page(view.to_html(tmp_path / "big.html"))
    offline = json.loads(_part(blob, meta["parts"]["offline"]))
    assert "neighbor_ids" not in meta["tables"]
    assert "need the kernel" in offline["reactions"]["focused"]["set"]["status"]


def test_similarity_and_rerank_pages(tmp_path: Path) -> None:
    texts = ["a cat", "a dog", HOSTILE, "a car"]
    matrix = SimilarityMatrix(_vectors(4), texts)
    _, meta, blob = _page(matrix.to_html(tmp_path / "m.html"))
    scores = np.frombuffer(_part(blob, meta["tables"]["scores"]["part"]), np.float32)
    np.testing.assert_array_equal(scores, matrix.scores.reshape(-1))
    ranking = RerankList("cat", texts, model=lambda q, d: np.arange(len(d), dtype=np.float32))
    _, meta, blob = _page(ranking.to_html(tmp_path / "r.html"))
    order = meta["parts"]["buffers"][meta["buffer_paths"].index(["order"])]
    assert list(np.frombuffer(_part(blob, order), np.uint32)) == [3, 2, 1, 0]
    assert json.loads(_part(blob, meta["parts"]["offline"]))["texts"] == texts


def test_image_points_carry_their_thumbnails(tmp_path: Path) -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    image[10:30, 10:30] = (200, 30, 30)
    view = ProjectionView(
        _vectors(6), [f"t{i}" for i in range(6)], images=[image, None] * 3, umap=False
    )
    _, meta, blob = _page(view.to_html(tmp_path / "img.html"))
    thumb_ids = np.frombuffer(_part(blob, meta["tables"]["thumb_ids"]["part"]), np.uint32)
    assert list(thumb_ids) == [0, 2, 4]
    offsets = np.frombuffer(_part(blob, meta["tables"]["thumb_offsets"]["part"]), np.uint32)
    data = _part(blob, meta["tables"]["thumb_bytes"]["part"])
    assert data[offsets[0] : offsets[1]] == view.thumbnail(0)


def _one_line(error: EmbedNbError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_bad_paths_give_one_line_errors(tmp_path: Path) -> None:
    view = RerankList("", ["x", "y"], model=lambda q, d: np.zeros(len(d), np.float32))
    with pytest.raises(FileAccessError) as error:
        view.to_html(tmp_path)
    assert "directory" in _one_line(error.value)
    with pytest.raises(FileAccessError) as error:
        view.to_html(tmp_path / "missing" / "map.html")
    assert "missing" in _one_line(error.value)
    with pytest.raises(InvalidInputError) as error:
        view.to_html("")  # type: ignore[arg-type]
    assert "file path" in _one_line(error.value)
    with pytest.raises(InvalidInputError):
        view.to_html(3)  # type: ignore[arg-type]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(FileAccessError) as error:
            view.to_html(locked / "map.html")
        _one_line(error.value)
    # A failed write leaves an existing file as it was.
    target = tmp_path / "keep.html"
    target.write_text("old")
    view.to_html(target)
    assert target.read_text().startswith("<!doctype html>")


def test_100k_points_of_real_docstrings_under_8_mb(tmp_path: Path) -> None:
    docs = stdlib_docs()
    n = 100_000
    texts = [docs[i % len(docs)].text for i in range(n)]
    labels = [docs[i % len(docs)].package for i in range(n)]
    view = ProjectionView(_vectors(n), texts, labels=labels, umap=False)
    size = view.to_html(tmp_path / "100k.html").stat().st_size
    assert size < 8_000_000, f"{size:,} bytes"


def test_nbconvert_shows_offline_pages_only_when_interactive() -> None:
    import nbformat

    from embed_nb.widgets.export import StaticWidgetsHTMLExporter
    from embed_nb.widgets.html_export import OFFLINE_MIME, OfflinePage

    view = RerankList("q", ["a", HOSTILE], model=lambda q, d: np.arange(2, dtype=np.float32))
    data = OfflinePage(view)._repr_mimebundle_()
    assert OFFLINE_MIME in data and "nbconvert" in data["text/plain"]
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(OfflinePage(view))")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    notebook.cells = [cell]
    plain, _ = StaticWidgetsHTMLExporter().from_notebook_node(notebook)
    assert "embed-nb-offline" not in plain and "embed_nb offline page" not in plain
    shown, _ = StaticWidgetsHTMLExporter(interactive=True).from_notebook_node(notebook)
    frame = re.search(
        r'<iframe class="embed-nb-offline" sandbox="allow-scripts" [^>]*srcdoc="([^"]*)"', shown
    )
    assert frame and "&lt;!doctype html&gt;" in frame.group(1)
    assert HOSTILE not in shown


def test_the_selection_table_travels_with_the_page() -> None:
    import pandas as pd

    frame = pd.DataFrame({"stars": [3, 1, 2], "lang": ["py", HOSTILE, "go"]}, index=["a", "b", "c"])
    view = ProjectionView(_vectors(3), ["x", "y", "z"], frame=frame, umap=False)
    rows = view._offline_data()["requests"]["table_rows"]
    assert rows["labels"] == ["a", "b", "c"]
    assert rows["cells"] == [["3", "py"], ["1", HOSTILE[:120]], ["2", "go"]]
    plain = ProjectionView(_vectors(3), ["x", "y", "z"], umap=False)
    assert plain._offline_data()["requests"]["table_rows"]["labels"] is None  # positions
