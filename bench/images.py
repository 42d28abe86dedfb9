"""Images per second: the in-kernel projector (libmtmd) against a real ``llama-server --mmproj``
on the same tiny files and the same pictures, and the largest difference between their vectors.

    python bench/images.py [--images 64] [--threads 2] [--repeat 3]

The files are the tests' tiny llama (mean pooling) and LLaVA-style projector
(tests/tiny_models.py, tests/tiny_vision.py); the pictures are synthetic PNGs of four sizes
(tests/synthetic_images.py), embedded without and with a caption, through ``embed_nb.embed``
with the cache off, so both sides pay for reading and decoding the files. Both run with the
same threads, f32 KV, flash attention off, and a decode of up to the kernel's micro-batch; the
server with one slot (as the kernel: one image at a time, the parity setting) and with four.
The servers start here on 127.0.0.1 one at a time; the kernel's and the server's runs
alternate (an idle server takes no CPU), and the best of each counts. Needs the binaries
of ``scripts/build_llama_server.py``.

The tiny model's vectors mean nothing; the figures measure the machinery (decode, projector,
HTTP and base64 for the server), not a real model's cost, which the projector's encoder
dominates.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _common import best_seconds, parser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT))  # after bench/ (which holds _common and remote)

SIZES = (32, 96, 224, 512)  # sides of the square pictures: mtmd resizes each to 32x32
CAPTION = " a coloured shape on a white background"
SLOTS = (1, 4)


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def write_pictures(folder: Path, n: int) -> list[Path]:
    from PIL import Image as PILImage

    from tests.synthetic_images import COLOURS, SHAPES, draw

    paths = []
    for i in range(n):
        colour = list(COLOURS)[i % len(COLOURS)]
        shape = SHAPES[(i // len(COLOURS)) % len(SHAPES)]
        size = SIZES[i % len(SIZES)]
        path = folder / f"{i:03d}-{colour}-{shape}-{size}.png"
        PILImage.fromarray(draw(colour, shape, size=size, scale=0.6 + 0.01 * i)).save(path)
        paths.append(path)
    return paths


def vision_server(
    model: Path, mmproj: Path, threads: int, n_ctx: int, n_ubatch: int, slots: int
) -> Any:
    """A llama-server with the projector and the kernel's settings (bench/remote.py's)."""
    from remote import llama_server

    args = [
        "--mmproj", str(mmproj), "--pooling", "mean", "-fa", "off", "-ctk", "f32", "-ctv", "f32",
        "-c", str(n_ctx * slots), "-b", str(n_ubatch), "-ub", str(n_ubatch), "-np", str(slots),
    ]  # fmt: skip
    return llama_server(str(model), threads, args)


def main() -> None:
    p = parser(__doc__ or "")
    p.set_defaults(threads=2)
    p.add_argument("--images", type=int, default=64, help="how many synthetic pictures")
    args = p.parse_args()

    import embed_nb
    from embed_nb.media import Image
    from tests.tiny_models import write_tiny_llama
    from tests.tiny_vision import write_tiny_mmproj

    folder = Path(tempfile.mkdtemp(prefix="embed_nb-bench-images-"))
    model_path = write_tiny_llama(folder / "tiny-llama.gguf", pooling="mean")
    mmproj = write_tiny_mmproj(folder / "tiny-mmproj.gguf")
    paths = write_pictures(folder, args.images)
    inputs: dict[str, list[Any]] = {
        "no caption": [Image(path) for path in paths],
        "with caption": [Image(path, text=CAPTION) for path in paths],
    }
    print(f"{len(paths)} PNGs of sides {', '.join(map(str, SIZES))}, {args.threads} threads")
    print(f"load average before: {load()}")

    def run(model: Any, items: list[Any]) -> np.ndarray:
        result = embed_nb.embed(items, model=model, cache=False, progress=False)
        return np.asarray(result)

    def once(model: Any, items: list[Any]) -> float:
        return best_seconds(lambda: run(model, items), 1)

    seconds: dict[tuple[str, str], float] = {}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    kernel = embed_nb.load_model(
        model_path, mmproj=mmproj, pooling="mean", n_threads=args.threads, flash_attn="off"
    )
    n_ctx, n_ubatch = kernel.info.n_ctx, kernel.info.n_ubatch
    for variant, items in inputs.items():
        vectors["kernel", variant] = run(kernel, items)  # also the warm-up

    contenders = ["kernel"]
    for slots in SLOTS:
        name = f"llama-server -np {slots}"
        contenders.append(name)
        # An idle server takes no CPU: kernel and server runs alternate, so that drift in
        # the machine's load hits both alike; the best of each counts.
        server = vision_server(model_path, mmproj, args.threads, n_ctx, n_ubatch, slots)
        with server as url, embed_nb.load_model(url) as remote:
            for variant, items in inputs.items():
                vectors[name, variant] = run(remote, items)  # also the warm-up
                for _ in range(args.repeat):
                    for who, model in (("kernel", kernel), (name, remote)):
                        best = seconds.get((who, variant), float("inf"))
                        seconds[who, variant] = min(best, once(model, items))
    kernel.close()

    print(f"\nllama-server: -c {n_ctx}×slots -b/-ub {n_ubatch} -ctk/-ctv f32 -fa off")
    print("\n| contender | input | images/s | kernel / it | max abs diff to kernel |")
    print("|---|---|---:|---:|---:|")
    for name in contenders:
        for variant in inputs:
            rate = len(paths) / seconds[name, variant]
            ratio = seconds[name, variant] / seconds["kernel", variant]
            diff = float(np.abs(vectors[name, variant] - vectors["kernel", variant]).max())
            print(f"| {name} | {variant} | {rate:,.0f} | {ratio:.2f}x | {diff:.1e} |")
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
