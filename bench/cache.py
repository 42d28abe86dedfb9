"""Re-running %embed over 10,000 cached texts against the cold run, in one process.

    python bench/cache.py

Prints the cold time, the warm time with the vectors in memory (same kernel), the warm time
from the SQLite file alone (a new kernel's first run), and their ratios.
"""

from __future__ import annotations

import sys
import tempfile
import time

from IPython.core.interactiveshell import InteractiveShell

from embed_nb import cache, datasets, registry
from embed_nb.models import DEFAULT_MODEL

N = 10_000


def main() -> None:
    short = datasets.short_texts()
    texts = (short + [f"{s} (see also the next section)" for s in short])[:N]
    assert len(set(texts)) == N
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "embed_nb")
    with tempfile.TemporaryDirectory() as tmp:
        ip.run_line_magic("config", f"EmbedMagics.cache_dir = {tmp!r}")
        ip.run_line_magic("config", "EmbedMagics.progress_threshold = 1000000")
        registry.load(DEFAULT_MODEL)
        ip.user_ns["texts"] = texts

        def timed(label: str) -> float:
            start = time.perf_counter()
            result = ip.run_line_magic("embed", "-v texts")
            seconds = time.perf_counter() - start
            result._repr_html_()  # what the notebook would show
            hits = result.extra["cache_hits"]
            print(f"{label:<28} {seconds * 1000:10.1f} ms  (cache hits {hits:,})")
            return seconds

        cold = timed("cold (model)")
        memory = timed("warm, same kernel (memory)")
        cache._CACHES.clear()  # a new kernel: nothing in memory, everything in the file
        disk = timed("warm, new kernel (sqlite)")
        print(f"speed-up from memory: {cold / memory:8.0f}x")
        print(f"speed-up from sqlite: {cold / disk:8.0f}x")
        registry.REGISTRY.unload_all()
    sys.exit(0 if cold / memory >= 100 and cold / disk >= 100 else 1)


if __name__ == "__main__":
    main()
