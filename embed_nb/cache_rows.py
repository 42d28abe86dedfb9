"""The checksummed rows of the cache file, and the entries and figures the cache hands out.

Vectors are stored as raw little-endian float32 bytes with their shape (no pickle) and a
BLAKE2b checksum of the whole row. A row whose dtype, shape or checksum does not hold is
dropped and counts as a miss, so it is recomputed rather than returned.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CacheInfo", "Entry", "decode_row", "row_checksum"]

DTYPE = "<f4"
_SHAPE = re.compile(r"\d{1,9}(,\d{1,9})?")


def row_checksum(key: str, dtype: str, shape: str, n_tokens: int, data: bytes) -> bytes:
    """The 16-byte BLAKE2b digest stored with a row, over every column that makes the vector.

    BLAKE2b rather than CRC32: CRC32's 32 bits let one damaged row in four billion through, and
    a cache of millions of rows read over and over gets there; any edit to a row (not only a
    burst of flipped bits) is caught; and at about 1 GB/s it costs ~2 us per 1.5 KB vector,
    nothing beside computing the vector. The key is included, so a row moved under another key
    fails too.
    """
    digest = hashlib.blake2b(digest_size=16, person=b"embed_nb-row-v2")
    digest.update(f"{key}\x1f{dtype}\x1f{shape}\x1f{n_tokens}\x1e".encode())
    digest.update(data)
    return digest.digest()


@dataclass(frozen=True)
class CacheInfo:
    """What :meth:`EmbeddingCache.info` reports."""

    path: str | None
    entries: int
    disk_bytes: int
    memory_entries: int
    memory_bytes: int
    memory_limit: int
    hits: int
    misses: int
    enabled: bool

    def __repr__(self) -> str:
        rows = {
            "file": self.path or "(memory only)",
            "entries on disk": f"{self.entries:,}",
            "file size": f"{self.disk_bytes / 2**20:.1f} MiB",
            "in memory": f"{self.memory_entries:,} vectors, {self.memory_bytes / 2**20:.1f} MiB"
            f" of {self.memory_limit / 2**20:.0f} MiB",
            "this session": f"{self.hits:,} hits, {self.misses:,} misses",
        }
        if not self.enabled:
            rows["state"] = "off"
        width = max(map(len, rows))
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows.items())


@dataclass(frozen=True)
class Entry:
    """One cached result: a float32 array (``(d,)``, or ``(n_tokens, d)`` for pooling none)."""

    vector: np.ndarray
    n_tokens: int


def decode_row(
    key: str,
    dtype: object,
    shape: object,
    n_tokens: object,
    data: object,
    checksum: object,
    dim: int | None,
) -> Entry | None:
    """The entry a stored row holds, or None when any check fails (a miss, recomputed)."""
    import numpy as np

    if dtype != DTYPE or not isinstance(shape, str) or not isinstance(data, bytes):
        return None
    if type(n_tokens) is not int or n_tokens < 0 or not isinstance(checksum, bytes):
        return None
    if checksum != row_checksum(key, dtype, shape, n_tokens, data):
        return None
    if not _SHAPE.fullmatch(shape):
        return None
    dims = tuple(int(n) for n in shape.split(","))
    if not dims[-1] or math.prod(dims) * 4 != len(data):
        return None
    if dim is not None and dims[-1] != dim:
        return None
    vector = np.frombuffer(data, dtype=DTYPE).reshape(dims)  # read-only: bytes are immutable
    if not np.isfinite(vector).all():
        return None
    return Entry(vector, n_tokens)
