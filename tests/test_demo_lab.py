"""`make demo`'s last step, for real: `make lab` starts JupyterLab on the quickstart notebook.

(The steps before it, `make setup` and the CLI embed, are what `make test` itself runs and
`test_cli.py::test_demo_command_with_default_model` checks.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ports import free_port

REPO = Path(__file__).resolve().parents[1]


def test_make_lab_serves_the_quickstart(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    pytest.importorskip("jupyterlab")
    port = free_port()
    options = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token= --allow-root "
        "--LabApp.news_url= --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PYTHON={sys.executable}", f"LAB_ARGS={options}"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert lab.poll() is None, "make lab exited:\n" + (tmp_path / "lab.log").read_text()
            try:
                url = f"http://127.0.0.1:{port}/api/contents/01-quickstart.ipynb?content=0"
                with urllib.request.urlopen(url, timeout=5) as response:
                    contents = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()
                time.sleep(0.5)
        assert contents["type"] == "notebook" and contents["path"] == "01-quickstart.ipynb"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=10) as response:
            assert response.status == 200
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
        log.close()
