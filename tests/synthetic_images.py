"""Synthetic pictures for the thumbnail tests: coloured shapes drawn with numpy, each one
easy to tell apart by eye (and by its mean colour), with vectors in tight clusters by colour."""

from __future__ import annotations

import numpy as np

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "orange": (245, 150, 20),
    "purple": (140, 50, 170),
}
SHAPES = ("disc", "square", "triangle", "cross")


def draw(colour: str, shape: str, size: int = 64, scale: float = 1.0) -> np.ndarray:
    """An (size, size, 3) uint8 picture: one shape in one colour on near-white."""
    yy, xx = np.mgrid[0:size, 0:size]
    c, r = (size - 1) / 2, size * 0.36 * scale
    if shape == "disc":
        inside = (xx - c) ** 2 + (yy - c) ** 2 <= r * r
    elif shape == "square":
        inside = (abs(xx - c) <= r * 0.85) & (abs(yy - c) <= r * 0.85)
    elif shape == "triangle":
        inside = (yy >= c - r) & (yy <= c + r) & (abs(xx - c) <= (yy - (c - r)) / 2)
    else:
        inside = (
            ((abs(xx - c) <= r * 0.3) | (abs(yy - c) <= r * 0.3))
            & (abs(xx - c) <= r)
            & (abs(yy - c) <= r)
        )
    image = np.full((size, size, 3), 250, np.uint8)
    image[inside] = COLOURS[colour]
    return image


def collection(
    n: int = 40,
) -> tuple[list[np.ndarray], np.ndarray, list[str], list[str]]:
    """n pictures, their 8-D vectors (tight clusters by colour), captions and colour labels."""
    names = list(COLOURS)
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(len(names), 8)).astype(np.float32) * 3
    images, vectors, captions, labels = [], [], [], []
    for i in range(n):
        colour, shape = names[i % len(names)], SHAPES[(i // len(names)) % len(SHAPES)]
        images.append(draw(colour, shape, scale=0.7 + 0.3 * ((i // 20) % 2)))
        vectors.append(centres[i % len(names)] + 0.06 * rng.normal(size=8).astype(np.float32))
        captions.append(f"a {colour} {shape}")
        labels.append(colour)
    return images, np.stack(vectors), captions, labels
