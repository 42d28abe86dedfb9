"""The checksummed rows of the cache file, and the entries and figures the cache hands out.

Vectors are stored as raw little-endian bytes with their shape (no pickle) and a BLAKE2b
checksum of the whole row. A row whose dtype, shape or checksum does not hold is dropped and
counts as a miss, so it is recomputed rather than returned.

Two row encodings, named by the row's own ``dtype`` column (so each row describes itself, and
one file may hold both):

- ``"<f4"`` (storage ``"float32"``, the default): the float32 vector, 4 bytes a component.
- ``"<i1,scale<f4"`` (storage ``"int8"``): symmetric int8 with one float32 scale per vector
  (per token row for pooling ``none``): ``scale = max|x| / 127``, ``q = round(x / scale)``;
  the data is the scales, then the codes. Read back as ``q * scale`` in float32, so every
  component is off by at most ``scale / 2`` (cosine to the float vector >= 0.9999 on
  all-MiniLM-L6-v2, see tests/test_quantize_cli_cache.py), for about a quarter of the bytes.

Whatever a cache writes, it reads both: a float32 row is exact, an int8 row comes back
dequantised (float32). embed_nb versions that predate int8 rows drop them as mismatched rows
and recompute them; they never read them as floats.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DTYPE",
    "INT8_DTYPE",
    "STORAGE_DTYPES",
    "CacheInfo",
    "Entry",
    "check_storage_dtype",
    "decode_row",
    "encode_vector",
    "row_checksum",
]

DTYPE = "<f4"
INT8_DTYPE = "<i1,scale<f4"
#: What ``EmbeddingCache(dtype=...)`` accepts, and the row dtype each writes.
STORAGE_DTYPES = {"float32": DTYPE, "int8": INT8_DTYPE}
_SHAPE = re.compile(r"\d{1,9}(,\d{1,9})?")


def check_storage_dtype(value: object) -> str:
    """``value`` as a storage dtype name (``"float32"`` or ``"int8"``).

    Raises:
        InvalidInputError: anything else.
    """
    if not isinstance(value, str) or value not in STORAGE_DTYPES:
        from .errors import InvalidInputError

        raise InvalidInputError(
            f"the cache dtype must be 'float32' (exact) or 'int8' (about 4x smaller, "
            f"per-vector scale), not {value!r}"
        )
    return value


def encode_vector(array: np.ndarray, storage: str) -> tuple[str, bytes, np.ndarray]:
    """A finite float32 ``(d,)`` or ``(n, d)`` array as a row: ``(dtype, data, read back)``.

    ``read back`` is the read-only float32 array :func:`decode_row` will give for the row, so
    a vector served from memory is the same as one served from the file.
    """
    import numpy as np

    if storage == "float32":
        data = array.astype(DTYPE, copy=False).tobytes()
        back = np.frombuffer(data, dtype=DTYPE).reshape(array.shape)
        return DTYPE, data, back
    rows = array.reshape(-1, array.shape[-1]).astype(np.float64)
    scales = (np.abs(rows).max(axis=1) / 127).astype(DTYPE)
    divisor = np.where(scales > 0, scales, 1).astype(np.float64)[:, None]
    # The clip only catches x / scale a rounding above 127 (scale is float32): -128 never used.
    codes = np.clip(np.rint(rows / divisor), -127, 127).astype("<i1")
    data = scales.tobytes() + codes.tobytes()
    return INT8_DTYPE, data, _dequantized(scales, codes, array.shape)


def _dequantized(scales: np.ndarray, codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    vector = (codes.reshape(len(scales), -1).astype(DTYPE) * scales[:, None]).reshape(shape)
    vector.flags.writeable = False
    return vector


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
    #: How new vectors are written ("float32" or "int8"); the file may hold rows of both.
    dtype: str = "float32"

    def __repr__(self) -> str:
        rows = {
            "file": self.path or "(memory only)",
            "entries on disk": f"{self.entries:,}",
            "file size": f"{self.disk_bytes / 2**20:.1f} MiB",
            "in memory": f"{self.memory_entries:,} vectors, {self.memory_bytes / 2**20:.1f} MiB"
            f" of {self.memory_limit / 2**20:.0f} MiB",
            "this session": f"{self.hits:,} hits, {self.misses:,} misses",
        }
        if self.dtype != "float32":
            rows["new vectors"] = f"stored as {self.dtype} (per-vector scale)"
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

    if dtype not in (DTYPE, INT8_DTYPE) or not isinstance(shape, str):
        return None
    if not isinstance(data, bytes):
        return None
    if type(n_tokens) is not int or n_tokens < 0 or not isinstance(checksum, bytes):
        return None
    if checksum != row_checksum(key, dtype, shape, n_tokens, data):
        return None
    if not _SHAPE.fullmatch(shape):
        return None
    dims = tuple(int(n) for n in shape.split(","))
    if not dims[-1] or (dim is not None and dims[-1] != dim):
        return None
    if dtype == INT8_DTYPE:
        n_rows = math.prod(dims[:-1])
        if n_rows * 4 + math.prod(dims) != len(data):
            return None
        scales = np.frombuffer(data, dtype=DTYPE, count=n_rows)
        codes = np.frombuffer(data, dtype="<i1", offset=n_rows * 4)
        if not (np.isfinite(scales).all() and (scales >= 0).all()) or (codes == -128).any():
            return None  # never written so: not a row this code made
        return Entry(_dequantized(scales, codes, dims), n_tokens)
    if math.prod(dims) * 4 != len(data):
        return None
    vector = np.frombuffer(data, dtype=DTYPE).reshape(dims)  # read-only: bytes are immutable
    if not np.isfinite(vector).all():
        return None
    return Entry(vector, n_tokens)
