"""Browser tests: a real JupyterLab on 127.0.0.1, driven by Playwright and Debian's Chromium.

Each test writes a notebook into a fresh folder, opens it in JupyterLab, runs all its cells,
interacts with the widget in the page, and reads the widget's state back from the very kernel
the page talks to (a second client on the kernel's connection file).

Skipped when Chromium, Playwright or JupyterLab is missing, or the widget bundle is not built.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ports import free_port

CHROMIUM = os.environ.get("EMBED_NB_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _requirements_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    for module in ("playwright", "jupyterlab", "jupyter_client"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    from embed_nb.widgets._base import STATIC_DIR

    if not (STATIC_DIR / "projection.js").is_file():
        return "the widget bundle is not built (npm run build in js/)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _requirements_missing()
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


class Lab:
    """A running JupyterLab server and where its notebooks and kernels live."""

    def __init__(self, root: Path, runtime: Path, port: int) -> None:
        self.root, self.runtime, self.port = root, runtime, port
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def start_session(self, name: str) -> None:
        """Start the kernel session for a notebook, as opening it in Lab would."""
        body = json.dumps(
            {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}}
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/api/sessions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=60).close()

    def write_notebook(self, name: str, cells: list[str] | Path) -> str:
        """Write a notebook of these cells into Lab's folder, or copy the notebook at a path."""
        if isinstance(cells, Path):
            (self.root / name).write_bytes(cells.read_bytes())
            return name
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"c{k}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for k, source in enumerate(cells)
            ],
            # Without a kernelspec Lab asks which kernel to use, and nothing runs.
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(notebook), encoding="utf-8")
        return name


@contextlib.contextmanager
def jupyter_server(
    tmp_path_factory: pytest.TempPathFactory, app: str, options: list[str]
) -> Iterator[Lab]:
    """Run ``python -m <app>`` (``jupyterlab`` or ``notebook``) on 127.0.0.1 with a free port,
    no token and the app exposed as ``window.jupyterapp``; stop it afterwards."""
    root = tmp_path_factory.mktemp(app)
    runtime = tmp_path_factory.mktemp("runtime")
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    # The kernel must find embed_nb and the tests' helpers even from the fixture folder.
    repo = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
            f"--notebook-dir={root}", "--ServerApp.disable_check_xsrf=True",
            *options,
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    instance = Lab(root, runtime, port)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                instance.api("/api")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{app} did not start:\n" + (root / "server.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield instance
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # Lab's own settings for these tests: start the notebook's kernel without asking (the
    # "Select Kernel" dialog otherwise pops up now and then, over the widgets).
    settings = tmp_path_factory.mktemp("settings")
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"autoStartDefaultKernel": true}')
    # No "get notified about Jupyter news?" toast over the widgets.
    notifications = settings / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    options = [
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with jupyter_server(tmp_path_factory, "jupyterlab", options) as instance:
        yield instance


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class KernelProbe:
    """Runs code in the kernel that the page's notebook uses, and returns what it printed."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def eval(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JSON-serialisable expression, evaluated in the kernel."""
        code = f"import json as _j; print(_j.dumps({expression}))"
        chunks: list[str] = []
        errors: list[str] = []

        def on_output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                chunks.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        self.client.execute_interactive(
            code, timeout=timeout, output_hook=on_output, store_history=False
        )
        if errors:
            raise AssertionError(errors[0])
        return json.loads("".join(chunks))

    def close(self) -> None:
        self.client.stop_channels()


# The open notebook's kernel is connected and idle (JupyterLab 4 and Notebook 7 alike).
KERNEL_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


class NotebookPage:
    """A notebook open in JupyterLab, its cells run, plus a probe into its kernel."""

    def __init__(self, page: Any, lab: Lab, name: str, url_path: str = "/lab/tree/") -> None:
        self.page, self.lab, self.name = page, lab, name
        # JupyterLab: /lab/tree/NAME?reset (a fresh workspace, so that tabs from earlier
        # tests are not restored and run). Notebook 7: /notebooks/NAME.
        query = "?reset" if url_path.startswith("/lab/") else ""
        self.url = f"{lab.url}{url_path}{name}{query}"
        self.probe: KernelProbe | None = None

    def open_and_run(self, timeout_ms: int = 240_000) -> None:
        page = self.page
        # Start the notebook's kernel session first: a notebook opened before Lab has read the
        # kernelspecs may ask which kernel to use, and answering starts a second kernel.
        self.lab.start_session(self.name)
        page.goto(self.url)
        # The app is exposed (expose_app_in_browser) so commands run without menus.
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget")
        page.wait_for_function(KERNEL_IDLE, timeout=timeout_ms)
        done = """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }"""
        deadline = time.monotonic() + timeout_ms / 1000
        started = asked = False
        last_run = 0.0
        while not page.evaluate(done):
            if time.monotonic() > deadline:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"timeout-{self.name}.png"
                page.screenshot(path=str(shot))
                raise AssertionError(f"the cells of {self.name} did not finish running: {shot}")
            # Should Lab ask for a kernel anyway, take its suggestion (once).
            dialog = page.locator(".jp-Dialog .jp-mod-accept")
            if dialog.count() and not asked:
                dialog.first.click()
                asked, started = True, False
            idle = page.evaluate(KERNEL_IDLE)
            # Run all; again if the kernel sits idle with cells not run (a run requested while
            # Lab was still connecting to the kernel can be dropped). The cells are idempotent.
            if idle and (not started or time.monotonic() - last_run > 20):
                page.evaluate(
                    "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
                )
                started, last_run = True, time.monotonic()
            page.wait_for_timeout(500)
        page.wait_for_function(KERNEL_IDLE, timeout=timeout_ms)
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
        assert not tracebacks, tracebacks
        self.probe = KernelProbe(self._connection_file())

    def dismiss_toasts(self) -> None:
        # Close buttons only: a toast's own buttons can open panels over the notebook.
        for button in self.page.locator(".Toastify__close-button").all():
            with contextlib.suppress(Exception):
                button.click(timeout=1000)

    def _connection_file(self) -> Path:
        sessions = self.lab.api("/api/sessions")
        mine = [s for s in sessions if s["path"].endswith(self.name)]
        assert mine, f"no kernel session for {self.name}: {sessions}"
        return self.lab.runtime / f"kernel-{mine[0]['kernel']['id']}.json"

    def eval(self, expression: str) -> Any:
        assert self.probe is not None
        return self.probe.eval(expression)

    def wait_for_kernel(self, expression: str, timeout_s: float = 20) -> Any:
        """Poll an expression in the kernel until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"{expression} stayed {value!r}")

    def screenshot(self, locator: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        locator.screenshot(path=str(path))
        return path

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
        try:
            # Shut the kernel down so that sessions do not pile up on a shared machine.
            for session in self.lab.api("/api/sessions"):
                if session["path"].endswith(self.name):
                    request = urllib.request.Request(
                        f"{self.lab.url}/api/sessions/{session['id']}", method="DELETE"
                    )
                    urllib.request.urlopen(request, timeout=10).close()
        finally:
            self.page.close()


@contextlib.contextmanager
def notebook_opener(server: Lab, browser: Any, url_path: str) -> Iterator[Any]:
    """``open_notebook(name, cells)`` for one server; the notebooks are closed afterwards."""
    opened: list[NotebookPage] = []

    def open_notebook(name: str, cells: list[str] | Path) -> NotebookPage:
        server.write_notebook(name, cells)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.dismiss())
        nb = NotebookPage(page, server, name, url_path)
        opened.append(nb)
        nb.open_and_run()
        return nb

    try:
        yield open_notebook
    finally:
        for nb in opened:
            nb.close()


@pytest.fixture
def notebook(lab: Lab, browser: Any) -> Iterator[Any]:
    """``notebook(name, cells)`` opens a new notebook in JupyterLab with those cells (or a copy
    of the notebook at the path ``cells``) and runs them all."""
    with notebook_opener(lab, browser, "/lab/tree/") as open_notebook:
        yield open_notebook


# Decodes the base64 PNG ``b64`` into ``bitmap`` and ``ctx`` (the browser decodes it for us:
# no imaging library needed).
_DECODE_PNG = """
    const blob = await (await fetch('data:image/png;base64,' + b64)).blob();
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
"""


def nonblank_pixels(page: Any, png: bytes) -> int:
    """How many pixels of a screenshot differ from its top-left pixel."""
    import base64

    return int(
        page.evaluate(
            f"""async (b64) => {{
                {_DECODE_PNG}
                const px = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
                let count = 0;
                for (let k = 0; k < px.length; k += 4) {{
                    if (Math.abs(px[k] - px[0]) + Math.abs(px[k + 1] - px[1])
                        + Math.abs(px[k + 2] - px[2]) > 24) count++;
                }}
                return count;
            }}""",
            base64.b64encode(png).decode("ascii"),
        )
    )


def pixel_rgb(page: Any, png: bytes, x: float, y: float) -> list[int]:
    """The RGB of one pixel of a screenshot."""
    import base64

    return list(
        page.evaluate(
            f"""async ([b64, x, y]) => {{
                {_DECODE_PNG}
                const px = ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data;
                return Array.from(px.slice(0, 3));
            }}""",
            [base64.b64encode(png).decode("ascii"), x, y],
        )
    )


def lasso(page: Any, corners: list[tuple[float, float]]) -> None:
    """Shift-drag through the corners, slowly enough for regl-scatterplot's throttled lasso.

    The path stops short of where it began: a mouse-up on the mouse-down spot is a click.
    """
    page.keyboard.down("Shift")
    page.mouse.move(*corners[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(corners, [*corners[1:], corners[0]], strict=True):
        last = (x1, y1) == corners[0]
        for step in range(1, 8 if last else 9):
            t = step / 8
            page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
            page.wait_for_timeout(25)
    page.mouse.up()
    page.keyboard.up("Shift")


def stage_point(page: Any, index: int) -> tuple[float, float]:
    """Page coordinates of a ProjectionView point, from the view's own scales."""
    stage = page.locator(".enb-proj-stage").bounding_box()
    px, py = page.evaluate("(i) => document.querySelector('.enb-proj').enb.pixel(i)", index)
    return stage["x"] + px, stage["y"] + py


def hover_point(nb: Any, index: int, failed_shot: str) -> None:
    """Move the mouse onto a ProjectionView point as a mouse does, a few steps at a time, until
    the view says it is hovered (three tries; a screenshot of the view when all fail)."""
    page = nb.page
    for attempt in range(3):
        x, y = stage_point(page, index)
        page.mouse.move(x - 25, y - 25)
        page.mouse.move(x, y, steps=6)
        try:
            page.wait_for_selector(f'.enb-proj[data-hovered="{index}"]', timeout=5_000)
            return
        except Exception:
            if attempt == 2:
                nb.screenshot(page.locator(".enb-proj"), failed_shot)
                raise


def loneliest_point(page: Any, n: int) -> int:
    """The ProjectionView point drawn farthest from every other one: where two points share a
    pixel the pointer may pick either, but it can only pick this one."""
    return int(
        page.evaluate(
            """(n) => {
                const enb = document.querySelector('.enb-proj').enb;
                const at = Array.from({length: n}, (_, i) => enb.pixel(i));
                let lone = 0, widest = -1;
                at.forEach(([px, py], i) => {
                    let nearest = Infinity;
                    at.forEach(([qx, qy], j) => {
                        if (j !== i) nearest = Math.min(nearest, Math.hypot(qx - px, qy - py));
                    });
                    if (nearest > widest) { widest = nearest; lone = i; }
                });
                return lone;
            }""",
            n,
        )
    )


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A Notebook 7 server (the ``notebook`` package), for the views that must work there too."""
    notebook = pytest.importorskip("notebook", reason="Notebook 7 (pip install notebook)")
    if int(notebook.__version__.split(".")[0]) < 7:
        pytest.skip(f"notebook {notebook.__version__} is not Notebook 7")
    options = ["--JupyterNotebookApp.expose_app_in_browser=True"]
    with jupyter_server(tmp_path_factory, "notebook", options) as server:
        yield server
