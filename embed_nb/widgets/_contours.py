"""Density contours for ProjectionView: a binned, blurred density of the layout and its
iso-lines by marching squares, all in numpy.

The layout is normalised into [-0.95, 0.95], so a fixed grid over [-1, 1] covers it. The
result is a few thousand line segments at most, whatever the number of points.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONTOUR_LEVELS", "contour_segments", "density_grid", "iso_segments"]

GRID = 96
SIGMA_CELLS = 2.0
# Iso-lines at these fractions of the highest density.
CONTOUR_LEVELS = (0.08, 0.2, 0.4, 0.7)


def _blur(grid: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, grid)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, rows)


def density_grid(layout: np.ndarray, size: int = GRID, sigma: float = SIGMA_CELLS) -> np.ndarray:
    """Point density on a ``(size, size)`` grid over [-1, 1]², rows along y, blurred."""
    xy = np.asarray(layout, dtype=np.float64)
    xy = xy[np.isfinite(xy).all(axis=1)]
    counts, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=size, range=[[-1, 1], [-1, 1]])
    return _blur(counts, sigma)


def iso_segments(grid: np.ndarray, level: float) -> np.ndarray:
    """Marching squares: ``(m, 4)`` segments ``x0, y0, x1, y1`` in [-1, 1]² where the grid
    (values at cell centres) crosses ``level``."""
    size = grid.shape[0]
    a, b = grid[:-1, :-1], grid[:-1, 1:]  # bottom-left, bottom-right
    c, d = grid[1:, 1:], grid[1:, :-1]  # top-right, top-left
    rows, cols = np.meshgrid(np.arange(size - 1), np.arange(size - 1), indexing="ij")

    def cross(v0: np.ndarray, v1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hit = (v0 >= level) != (v1 >= level)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(hit, (level - v0) / (v1 - v0), 0.0)
        return hit, np.clip(t, 0.0, 1.0)

    # Edges in order bottom, right, top, left; each point as (col, row) in grid units.
    edges = []
    for (v0, v1), start, step in (
        ((a, b), (0, 0), (1, 0)),
        ((b, c), (1, 0), (0, 1)),
        ((d, c), (0, 1), (1, 0)),
        ((a, d), (0, 0), (0, 1)),
    ):
        hit, t = cross(v0, v1)
        px = cols + start[0] + step[0] * t
        py = rows + start[1] + step[1] * t
        edges.append((hit, px, py))
    hits = np.stack([e[0] for e in edges], axis=-1)
    pts = np.stack([np.stack([e[1], e[2]], axis=-1) for e in edges], axis=-2)  # (r, c, 4, 2)
    count = hits.sum(axis=-1)
    segments = []
    two = count == 2
    if two.any():
        h = hits[two]
        p = pts[two]
        first = np.argmax(h, axis=1)
        second = 3 - np.argmax(h[:, ::-1], axis=1)
        k = np.arange(len(h))
        segments.append(np.concatenate([p[k, first], p[k, second]], axis=1))
    four = count == 4  # a saddle: pair the edges two by two
    if four.any():
        p = pts[four]
        segments.append(np.concatenate([p[:, 0], p[:, 1]], axis=1))
        segments.append(np.concatenate([p[:, 2], p[:, 3]], axis=1))
    if not segments:
        return np.zeros((0, 4), np.float32)
    cells = np.concatenate(segments)
    # Grid units (cell centres at k + 0.5 of 2/size) to layout coordinates.
    return (-1.0 + (cells + 0.5) * (2.0 / size)).astype(np.float32)


def contour_segments(layout: np.ndarray, levels: tuple[float, ...] = CONTOUR_LEVELS) -> np.ndarray:
    """``(m, 5)`` float32 rows ``x0, y0, x1, y1, level index`` of the layout's iso-density
    lines at ``levels`` (fractions of the highest density)."""
    grid = density_grid(layout)
    top = float(grid.max()) if grid.size else 0.0
    if top <= 0:
        return np.zeros((0, 5), np.float32)
    parts = []
    for k, fraction in enumerate(levels):
        seg = iso_segments(grid, fraction * top)
        parts.append(np.concatenate([seg, np.full((len(seg), 1), k, np.float32)], axis=1))
    return np.concatenate(parts).astype(np.float32)
