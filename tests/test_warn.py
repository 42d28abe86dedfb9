"""embed_nb's warnings name the user's line, whatever path inside embed_nb raised them."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from embed_nb.engine.placement import CpuOnlyBuildWarning, gpu_layers_to_ask
from embed_nb.warn import warn


def test_a_warning_points_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("embed_nb: something", UserWarning)
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]


def test_the_cpu_only_warning_points_at_the_user_not_at_embed_nb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("embed_nb.engine.placement._warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert gpu_layers_to_ask(5, gpu_build=False) == 0
    found = [w for w in caught if issubclass(w.category, CpuOnlyBuildWarning)]
    assert len(found) == 1 and Path(found[0].filename).name == Path(__file__).name
