"""Every notebook in ``examples/`` runs top to bottom in a real Jupyter kernel (nbclient).

One test per notebook, with the real default model and a per-cell timeout. The kernel's working
directory is ``examples/``, as it is when JupyterLab opens a notebook there. A cell tagged
``raises-exception`` may fail on purpose (it shows an error message); any other error fails the
test, with the cell and its traceback in the report.

A notebook that needs a built llama-server says so in its metadata
(``"embed_nb": {"needs": ["llama-server"]}``); without the binary its test is skipped, with the
build command as the reason, except in CI (``CI`` set), where it fails.

A fast check (not an integration test) keeps the committed notebooks clean: no outputs, no
execution counts, and the ``python3`` kernelspec, so that JupyterLab opens them without asking
for a kernel.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import llama_bins
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
#: Seconds one cell may run. Generous: a cold cache embeds ~2,000 texts in one cell on 2 cores.
CELL_TIMEOUT_S = 300
#: Seconds to wait for the kernel to start.
STARTUP_TIMEOUT_S = 120


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _skip_or_fail(message: str) -> None:
    if _in_ci():
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


def _load_notebook(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def _needs(path: Path) -> list[str]:
    return list(_load_notebook(path).get("metadata", {}).get("embed_nb", {}).get("needs", []))


def _llama_server_built() -> tuple[bool, Path]:
    """Whether scripts/build_llama_server.py has a cached build (without building one)."""
    directory = llama_bins.bin_dir()
    return llama_bins.is_built(directory), directory


def _kernel_env() -> dict[str, str]:
    """The kernel runs this interpreter; put its scripts folder first on PATH, so that
    ``!embed-nb`` in a notebook finds the console script even in a virtualenv that is not
    activated."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets a debugger warning
    return env


def test_examples_exist() -> None:
    names = [path.stem for path in NOTEBOOKS]
    assert len(names) >= 7, names
    assert names == sorted(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_clean(path: Path) -> None:
    notebook = _load_notebook(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert notebook["cells"][0]["cell_type"] == "markdown", "start with a title and a story"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            where = f"{path.name}: cell {cell.get('id')}"
            assert cell["outputs"] == [], f"{where} has outputs; strip them before committing"
            assert cell["execution_count"] is None, f"{where} has an execution count"


@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:
        _skip_or_fail(f"running the example notebooks needs nbclient and ipykernel ({error})")
    if "llama-server" in _needs(path):
        built, directory = _llama_server_built()
        if not built:
            _skip_or_fail(
                f"{path.name} needs llama-server, not built in {directory}; run "
                "`python scripts/build_llama_server.py` (minutes, once)"
            )
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=STARTUP_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    started = time.perf_counter()
    client.execute(env=_kernel_env())
    seconds = time.perf_counter() - started
    print(f"{path.name}: {seconds:.1f} s")
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert outputs, f"{path.name} ran but showed nothing"
    unexpected = [
        (cell.get("id"), out.get("ename"))
        for cell in notebook.cells
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", [])
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not unexpected, unexpected
