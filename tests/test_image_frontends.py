"""Images through the front ends: ``%embed --image``, ``%embed_search --image``, ``%embed_map``
of an image list, and ``embed-nb embed --image``, each giving what the API gives.

The model is the tiny llama decoder with the tiny LLaVA-style projector (tests/tiny_vision.py):
the vectors mean nothing, the paths are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_shell import configured

import embed_nb
from embed_nb.cli import main
from embed_nb.engine import LocalModel

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def files(
    vision_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("frontends")
    pictures = root / "pictures"
    pictures.mkdir()
    for i in range(3):
        array = np.random.default_rng(i).integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)
        PIL.fromarray(array).save(pictures / f"p{i}.png")
    return {
        "model": vision_files["mean"],
        "mmproj": vision_files["mmproj"],
        "pictures": pictures,
    }


@pytest.fixture(scope="module")
def api_model(files: dict[str, Path]) -> LocalModel:
    return LocalModel(files["model"], mmproj=files["mmproj"], n_threads=2)


@pytest.fixture
def ip(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> Any:
    with configured(shell, tmp_path, monkeypatch, files["model"]) as configured_shell:
        configured_shell.run_line_magic(
            "embed_model", f"load {files['model']} --mmproj {files['mmproj']} -t 2"
        )
        yield configured_shell


def test_embed_image_glob_with_a_caption(
    ip: Any, files: dict[str, Path], api_model: LocalModel
) -> None:
    result = ip.run_line_magic("embed", f"--image {files['pictures']}/*.png -o v a picture")
    assert result.texts == [f"p{i}.png — a picture" for i in range(3)]
    assert ip.user_ns["v"] is result
    paths = sorted(files["pictures"].glob("*.png"))
    expected = api_model.embed([embed_nb.Image(p, text="a picture") for p in paths])
    np.testing.assert_array_equal(result.vectors, expected.vectors)


def test_embed_a_variable_of_paths_and_texts(ip: Any, files: dict[str, Path]) -> None:
    ip.user_ns["mixed"] = ["a text", *sorted(files["pictures"].glob("*.png"))]
    result = ip.run_line_magic("embed", "-v mixed")
    assert result.shape == (4, 32)
    assert result.media[0] is None and all(m is not None for m in result.media[1:])


def test_embed_search_with_an_image_query(ip: Any, files: dict[str, Path]) -> None:
    paths = sorted(files["pictures"].glob("*.png"))
    ip.user_ns["corpus"] = ["a cat", *paths]
    found = ip.run_line_magic("embed_search", f"--image {paths[1]} corpus -k 2")
    assert found.hits[0].index == 2 and found.hits[0].media is not None
    assert "<img" in found._repr_html_()  # the hit's thumbnail, inline


def test_embed_map_of_images_shows_their_thumbnails(ip: Any, files: dict[str, Path]) -> None:
    pytest.importorskip("anywidget")
    ip.user_ns["pictures"] = sorted(files["pictures"].glob("*.png"))
    view = ip.run_line_magic("embed_map", "pictures --thumbnails")
    assert view.thumbnails is True
    assert view.thumbnail(0)[:2] == b"\xff\xd8"  # a JPEG made in the kernel


def test_embed_image_without_a_projector_is_one_line(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured(shell, tmp_path, monkeypatch, files["model"]) as configured_shell:
        result = configured_shell.run_cell(
            f"%embed --image {files['pictures']}/p0.png", store_history=False
        )
        assert "--mmproj" in str(result.error_in_exec)
        missing = configured_shell.run_cell(
            f"%embed --image {tmp_path}/nothing-*.png", store_history=False
        )
        assert "nothing-" in str(missing.error_in_exec)
    capsys.readouterr()


def test_cli_embed_images(
    files: dict[str, Path], api_model: LocalModel, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["embed", "-m", files["model"], "--mmproj", files["mmproj"], "-t", "2"]
    argv += ["-p", "a text", "--image", f"{files['pictures']}/*.png"]
    status = main([str(a) for a in [*argv, "--embd-output-format", "json"]])
    out = capsys.readouterr().out
    assert status == 0
    rows = np.array([item["embedding"] for item in json.loads(out)["data"]])
    paths = sorted(files["pictures"].glob("*.png"))
    expected = api_model.embed(["a text", *paths]).vectors
    np.testing.assert_allclose(rows, expected, atol=1e-6)


def test_cli_image_without_mmproj_is_one_line(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["embed", "-m", str(files["model"]), "--image", str(files["pictures"])]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "--mmproj" in err and "\n" not in err
