"""Static pictures of the widgets: colour maps, and PNGs written with zlib alone.

The PNG goes into each widget's MIME bundle, so a notebook exported to HTML (or opened where
widgets cannot run) still shows what the view looked like when it was displayed.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

__all__ = ["CATEGORY_COLORS", "category_palette", "png_base64", "png_bytes", "viridis"]

# Anchor points of matplotlib's viridis, every 1/8; interpolated to 256 entries.
_VIRIDIS_ANCHORS = np.array(
    [
        [68, 1, 84],
        [72, 36, 117],
        [65, 68, 135],
        [53, 95, 141],
        [42, 120, 142],
        [33, 145, 140],
        [34, 168, 132],
        [68, 191, 112],
        [122, 209, 81],
        [189, 223, 38],
        [253, 231, 37],
    ],
    dtype=np.float64,
)

# Tableau-like qualitative colours for labels and clusters; "other"/noise is grey.
CATEGORY_COLORS = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bcb6", "#d37295", "#8cd17d", "#b6992d", "#499894", "#f1ce63", "#a0cbe8",
    "#ffbe7d", "#d4a6c8", "#fabfd2", "#79706e",
]  # fmt: skip
OTHER_COLOR = "#bab0ac"


def viridis() -> np.ndarray:
    """A ``(256, 3)`` uint8 viridis colour map."""
    x = np.linspace(0.0, 1.0, len(_VIRIDIS_ANCHORS))
    t = np.linspace(0.0, 1.0, 256)
    channels = [np.interp(t, x, _VIRIDIS_ANCHORS[:, c]) for c in range(3)]
    return np.round(np.stack(channels, axis=1)).astype(np.uint8)


def category_palette(n: int) -> list[str]:
    """``n`` category colours; past the palette's length, categories share colours."""
    return [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in range(n)]


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an ``(h, w, 3)`` or ``(h, w, 4)`` uint8 array as a PNG."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError("expected an (h, w, 3|4) uint8 image")
    height, width, channels = image.shape
    color_type = 2 if channels == 3 else 6
    # Filter type 0 (none) at the start of every row.
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def png_base64(image: np.ndarray) -> str:
    """A PNG as base64 text, the way Jupyter MIME bundles carry ``image/png``."""
    return base64.b64encode(png_bytes(image)).decode("ascii")
