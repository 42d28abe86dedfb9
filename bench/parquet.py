"""A million-row parquet corpus through ``embed_parquet``, with the kernel's memory watched.

    python bench/parquet.py [--rows 1000000] [--files 20] [--model PATH] [--workers 2]

The input is ``--files`` parquet files of short texts (numbered, so each row differs).
Without ``--model`` the texts go through a tiny random BERT (384 wide, 2 layers, from the
tests' model writer): the point is the pipeline, not the model. Prints the rate against the
same engine in the kernel on the first file's texts (measured in this run), the kernel's RSS
before and at its peak during the job (sampled every 20 ms), and what the vectors alone would
take: the kernel must not hold them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent / "tests"))  # tiny_models: the tests' GGUF writer

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from _common import parser  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The largest RSS of this process while the block runs."""

    def __enter__(self) -> PeakRss:
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def write_input(folder: Path, rows: int, files: int) -> list[str]:
    """``files`` parquet files of ``rows`` short texts (5 to 12 words the tiny model knows,
    and the row's number); returns the first file's texts."""
    import numpy as np
    from tiny_models import TINY_WORDS

    rng = np.random.default_rng(0)
    words = np.array(TINY_WORDS)
    per_file = -(-rows // files)
    first: list[str] = []
    for f in range(files):
        start, stop = f * per_file, min(rows, (f + 1) * per_file)
        lengths = rng.integers(5, 13, stop - start)
        texts = [
            " ".join(rng.choice(words, n)) + f" {start + k}" for k, n in enumerate(lengths)
        ]
        table = pa.table({"id": pa.array(range(start, stop), pa.int64()), "text": texts})
        pq.write_table(table, folder / f"in-{f:03d}.parquet")
        if f == 0:
            first = texts
    return first


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--workers", type=int, default=2, help="worker processes, one thread each")
    args = p.parse_args()

    from distributed import Client, LocalCluster

    import embed_nb
    from embed_nb.distributed import embed_parquet

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.model:
            path = args.model
        else:
            from tiny_models import write_tiny_bert

            path = str(write_tiny_bert(folder / "tiny-384.gguf", n_embd=384, n_ff=768, n_ctx=512))
        (folder / "in").mkdir()
        started = time.perf_counter()
        sample = write_input(folder / "in", args.rows, args.files)
        took = time.perf_counter() - started
        print(f"wrote {args.rows:,} rows in {args.files} files: {took:.1f} s")

        model = embed_nb.load_model(path, n_threads=args.threads)
        started = time.perf_counter()
        model.embed(sample)
        kernel_rate = len(sample) / (time.perf_counter() - started)

        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
        try:
            before = rss_mib()
            with PeakRss() as watch:
                started = time.perf_counter()
                job = embed_parquet(
                    str(folder / "in" / "*.parquet"),
                    folder / "out",
                    text_column="text",
                    id_column="id",
                    model=model,
                    client=client,
                    progress=False,
                )
                seconds = time.perf_counter() - started
        finally:
            client.close()
            cluster.close()
        parts = sorted((folder / "out").glob("part.*.parquet"))
        written = sum(pq.ParquetFile(f).metadata.num_rows for f in parts)
        schema = pq.read_schema(parts[0])

    rate = args.rows / seconds
    vectors_mib = args.rows * model.n_embd * 4 / 2**20
    print(f"\n{job!r}\n")
    print("| | value |")
    print("|---|---:|")
    print(f"| rows written | {written:,} (asked {args.rows:,}) |")
    print(f"| vector column | `{schema.field('embedding').type}` |")
    print(f"| wall time | {seconds:.1f} s |")
    print(f"| rows/s through embed_parquet | {rate:,.0f} |")
    print(f"| rows/s, same engine in the kernel (first file) | {kernel_rate:,.0f} |")
    print(f"| embed_parquet / kernel | {rate / kernel_rate:.2f}x |")
    print(f"| kernel RSS before | {before:,.0f} MiB |")
    grew = watch.peak - before
    print(f"| kernel RSS peak during the job | {watch.peak:,.0f} MiB (+{grew:,.0f}) |")
    print(f"| the vectors alone | {vectors_mib:,.0f} MiB |")
    print(f"| cpus | {os.cpu_count()} |")


if __name__ == "__main__":
    main()
