"""What the widgets cost: comm bytes per point at a million points (plain, and with labels on
the map and a numeric colour column), the 2,000 x 2,000 similarity payload, the size of an
exported offline page (to_html) of 100,000 real docstrings, the time to first draw of such a
page in headless chromium, and (with --umap) UMAP speed and quality against umap-learn's
defaults.

    python bench/widgets.py            # payloads (about two minutes, 6 GB of memory at 1M points)
    python bench/widgets.py --umap     # also bench/umap.py's comparison on >= 8,000 real texts

Payloads are measured as ipywidgets sends them: the binary buffers of ``get_state()``. The
comparison point is plotly's FigureWidget, which sends a scatter's x and y as JSON lists
(about 38 bytes a point for float64 values printed with 17 digits) on top of ~4.8 MB of
JavaScript per figure; the JSON size is measured here on the same points.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def buffers(widget: object) -> dict[str, int]:
    state = widget.get_state()  # type: ignore[attr-defined]
    return {k: v.nbytes for k, v in state.items() if isinstance(v, memoryview)}


def projection_payload(n: int, dim: int) -> None:
    from embed_nb.widgets import ProjectionView

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(16, dim)).astype(np.float32)
    labels = rng.integers(0, 16, n)
    vectors = centres[labels] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    start = time.perf_counter()
    view = ProjectionView(vectors, labels=labels, umap=False)
    built = time.perf_counter() - start
    start = time.perf_counter()
    sizes = buffers(view)
    state_s = time.perf_counter() - start
    per_point = (sizes["positions"] + sizes["categories"]) / n
    bundle = Path(__file__).resolve().parent.parent / "embed_nb" / "static" / "projection.js"
    xy = view.layout[:10_000].astype(np.float64)
    json_per_point = len(json.dumps({"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()})) / 10_000
    print(f"ProjectionView, {n:,} points of dim {dim}:")
    print(f"  built (PCA, colours) in {built:.2f} s; state serialised in {state_s * 1000:.0f} ms")
    print(
        f"  comm payload: positions {sizes['positions']:,} B + categories "
        f"{sizes['categories']:,} B = {per_point:.1f} bytes/point (limit 12)"
    )
    print(f"  same x, y as JSON lists (plotly's way): {json_per_point:.1f} bytes/point, "
          f"{json_per_point / per_point:.1f}x more")  # fmt: skip
    if bundle.is_file():
        print(f"  JavaScript bundle: {bundle.stat().st_size / 1024:.0f} KiB, once per session")


def state_bytes(widget: object) -> tuple[int, int]:
    """(binary buffer bytes, JSON bytes) of a widget's state as ipywidgets sends it, without
    the bundle (``_esm``/``_css``, sent once per session)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state = {
        k: v
        for k, v in widget.get_state().items()  # type: ignore[attr-defined]
        if k not in ("_esm", "_css")
    }
    json_state, _, buffers_ = _remove_buffers(state)
    return sum(b.nbytes for b in buffers_), len(json.dumps(json_state))


def map_payload(n: int, dim: int) -> None:
    """The map as issue 15 left it: labels on the map from the categories, and a numeric
    colour column (quantised to one byte in the kernel), against the 12 bytes/point budget."""
    from embed_nb.widgets import ProjectionView

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(16, dim)).astype(np.float32)
    labels = rng.integers(0, 16, n)
    vectors = centres[labels] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    score = rng.gamma(2.0, 10.0, n)  # a numeric column, e.g. a document's length
    start = time.perf_counter()
    topics = [f"topic {k}" for k in labels]
    view = ProjectionView(vectors, labels=topics, color_by=score, umap=False)
    built = time.perf_counter() - start
    binary_, json_ = state_bytes(view)
    print(f"ProjectionView, {n:,} points with labels on the map and a numeric color_by:")
    print(
        f"  built in {built:.2f} s; {binary_:,} B binary + {json_:,} B JSON = "
        f"{(binary_ + json_) / n:.2f} bytes/point (limit 12)"
    )


def export_size(n: int) -> Path:
    """The offline page (to_html) of ``n`` points of real docstrings with package labels."""
    import tempfile

    from embed_nb.datasets import stdlib_docs
    from embed_nb.widgets import ProjectionView

    docs = stdlib_docs()
    texts = [docs[i % len(docs)].text for i in range(n)]
    labels = [docs[i % len(docs)].package for i in range(n)]
    vectors = np.random.default_rng(2).normal(size=(n, 32)).astype(np.float32)
    view = ProjectionView(vectors, texts, labels=labels, umap=False)
    path = Path(tempfile.mkdtemp(prefix="embed_nb-bench-")) / f"map-{n}.html"
    start = time.perf_counter()
    view.to_html(path)
    size = path.stat().st_size
    print(
        f"to_html of {n:,} real docstrings: {size / 1e6:.2f} MB (limit 8 MB, "
        f"{size / 8e6:.2f}x of it), written in {time.perf_counter() - start:.1f} s"
    )
    return path


def first_draw(path: Path, runs: int = 3) -> None:
    """Seconds from navigation to the first drawn frame of an exported page in headless
    chromium (software WebGL, SwiftShader): an upper bound for a machine with a GPU."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("time to first draw: not run (pip install playwright; apt-get install chromium)")
        return
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            start = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector("[data-drawn]", timeout=120_000)
            times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    print(
        f"time to first draw of that page: at most {max(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}; software WebGL)"
    )


def similarity_payload() -> None:
    from embed_nb.widgets import SimilarityMatrix

    vectors = _real_vectors(2000)
    for order in ("cluster", "input"):
        start = time.perf_counter()
        matrix = SimilarityMatrix(vectors, order=order)
        built = time.perf_counter() - start
        start = time.perf_counter()
        sizes = buffers(matrix)
        state_s = time.perf_counter() - start
        print(
            f"SimilarityMatrix 2,000 x 2,000 ({order} order): payload built in {built:.2f} s, "
            f"state serialised in {state_s * 1000:.0f} ms, {sizes['values'] / 1e6:.1f} MB "
            "(one byte per cell)"
        )


def _real_vectors(n: int) -> np.ndarray:
    """n real text embeddings: the cached bench/umap.py corpus, else embed short_texts now."""
    from embed_nb.paths import cache_dir

    cached = sorted((cache_dir() / "bench").glob("stdlib-minilm-*.npy"))
    if cached:
        vectors = np.load(cached[0])
        if len(vectors) >= n:
            print(f"(real vectors: {cached[0].name})")
            return vectors[:n]
    from embed_nb import load_model
    from embed_nb.datasets import short_texts

    with load_model("all-minilm-l6-v2") as model:
        return np.asarray(model.embed(short_texts(n)), dtype=np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=384, help="embedding size of the synthetic points")
    p.add_argument("--umap", action="store_true", help="also run bench/umap.py")
    p.add_argument("--export-points", type=int, default=100_000, help="points in to_html's page")
    args = p.parse_args()
    print(f"{len(os.sched_getaffinity(0))} cores")
    projection_payload(args.points, args.dim)
    map_payload(args.points, args.dim)
    similarity_payload()
    first_draw(export_size(args.export_points))
    if args.umap:
        here = Path(__file__).resolve().parent
        subprocess.run([sys.executable, str(here / "umap.py")], check=True)


if __name__ == "__main__":
    main()
