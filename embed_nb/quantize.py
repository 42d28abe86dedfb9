"""Quantised vectors: int8, uint8 and binary embeddings, as sentence-transformers makes them.

The semantics follow sentence-transformers' ``quantize_embeddings`` (6.2.0), so vectors
quantised here and there are the same bytes:

* ``int8`` / ``uint8``: each dimension's range ``[min, max]`` (from ``calibration`` vectors,
  else from the vectors themselves) is cut into 256 buckets; a value becomes its bucket
  number, 0..255 for uint8 and -128..127 for int8. 4x smaller than float32.
* ``binary`` / ``ubinary``: one bit per dimension (positive or not), packed 8 to a byte by
  ``np.packbits``; binary stores each byte minus 128 as int8, ubinary the byte as uint8.
  32x smaller than float32.

Searching them (with float rescoring) is :mod:`embed_nb.quantized_search`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidInputError

if TYPE_CHECKING:
    from .request import EmbedRequest
    from .results import Embeddings

__all__ = ["PRECISIONS", "QuantizedEmbeddings", "dequantize", "quantize", "quantize_array"]

#: The precisions :func:`quantize` makes.
PRECISIONS = ("int8", "uint8", "binary", "ubinary")


@dataclass(frozen=True, eq=False, repr=False)
class QuantizedEmbeddings:
    """Quantised vectors and the provenance of the float vectors they came from.

    ``np.asarray(result)`` gives the packed array: ``(n, d)`` int8/uint8, or ``(n, ceil(d/8))``
    bytes for binary precisions (``(d,)`` / ``(ceil(d/8),)`` for one text). Search it with
    :func:`embed_nb.search`, which rescores the candidates with the float query.
    """

    packed: np.ndarray
    precision: str
    ranges: np.ndarray | None  # (2, d) float32 per-dimension [min; max] for int8/uint8
    dim: int  # the float vectors' size (binary packs it into ceil(dim / 8) bytes)
    texts: list[str]
    model: str
    fingerprint: str
    pooling: str
    request: EmbedRequest  # how the float vectors were made: a query is embedded the same way
    single: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.packed if dtype is None else self.packed.astype(dtype, copy=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.packed.shape)

    @property
    def bytes_per_vector(self) -> int:
        """Memory of one quantised vector, in bytes (one byte per stored value)."""
        return int(self.packed.shape[-1] * self.packed.itemsize)

    @property
    def float32_bytes_per_vector(self) -> int:
        """What one vector takes as float32: ``4 * dim``."""
        return 4 * self.dim

    @property
    def saving(self) -> float:
        """How many times smaller than float32 (4 for int8, 32 for binary of 384 dims)."""
        return self.float32_bytes_per_vector / self.bytes_per_vector

    @property
    def nbytes(self) -> int:
        return int(self.packed.nbytes)

    def dequantized(self) -> np.ndarray:
        """float64 ``(n, dim)`` vectors back from the quantised ones (see :func:`dequantize`)."""
        return dequantize(np.atleast_2d(self.packed), self.precision, self.ranges, self.dim)

    def __repr__(self) -> str:
        return (
            f"QuantizedEmbeddings(precision={self.precision!r}, n={len(self)}, dim={self.dim}, "
            f"{self.bytes_per_vector:,} bytes/vector vs {self.float32_bytes_per_vector:,} as "
            f"float32 ({self.saving:g}x smaller), model={self.model!r})"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def quantize(
    embeddings: Embeddings,
    precision: str,
    *,
    calibration: object = None,
    ranges: object = None,
) -> QuantizedEmbeddings:
    """Quantise :class:`~embed_nb.results.Embeddings` (see :meth:`Embeddings.quantize`)."""
    if embeddings.vectors is None:
        raise InvalidInputError(
            "per-token vectors (pooling none) cannot be quantised here; embed with a pooling "
            "model (mean, cls or last) to get one vector per text"
        )
    packed, used = quantize_array(
        embeddings.vectors, precision, calibration=calibration, ranges=ranges
    )
    return QuantizedEmbeddings(
        packed=packed,
        precision=precision,
        ranges=used,
        dim=embeddings.dim,
        texts=list(embeddings.texts),
        model=embeddings.model,
        fingerprint=embeddings.fingerprint,
        pooling=embeddings.pooling,
        request=embeddings.request,
        single=embeddings.single,
        extra={k: v for k, v in embeddings.extra.items() if k == "index"},
    )


def quantize_array(
    vectors: object,
    precision: str,
    *,
    calibration: object = None,
    ranges: object = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Quantise float vectors: ``(packed, ranges)``, ranges None for binary precisions.

    Args:
        vectors: float ``(n, d)`` (or ``(d,)``) vectors.
        precision: ``"int8"``, ``"uint8"``, ``"binary"`` or ``"ubinary"``.
        calibration: int8/uint8 only: vectors (Embeddings or an ``(m, d)`` array, m >= 2)
            whose per-dimension min and max set the buckets, so a corpus and the queries (or
            later additions) share them. Without it the vectors' own ranges are used.
        ranges: int8/uint8 only: the ``(2, d)`` [min; max] rows directly (as from an earlier
            result's ``.ranges``); wins over ``calibration``.

    Raises:
        InvalidInputError: an unknown precision, no vectors, NaN or infinite values, or
            calibration/ranges of the wrong shape.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidInputError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, not {precision!r}"
        )
    data = _float_matrix(vectors, "the vectors")
    d = data.shape[-1]
    if precision in ("binary", "ubinary"):
        packed = np.packbits(data > 0, axis=-1)
        if precision == "binary":  # sentence-transformers' offset: each byte minus 128, int8
            packed = (packed.astype(np.int16) - 128).astype(np.int8)
        return packed, None
    bounds = _ranges(data, d, calibration, ranges)
    starts = bounds[0]
    steps = (bounds[1] - starts) / 255
    steps = np.where(steps == 0, 1, steps)  # a constant dimension: every value in bucket 0
    buckets = np.clip(np.floor((data - starts) / steps), 0, 255)
    if precision == "uint8":
        return buckets.astype(np.uint8), bounds
    return (buckets - 128).astype(np.int8), bounds


def dequantize(
    packed: np.ndarray, precision: str, ranges: np.ndarray | None, dim: int
) -> np.ndarray:
    """float64 vectors back from quantised rows, for rescoring with a float query.

    int8/uint8: each bucket's lower edge, ``bucket * step + min`` (sentence-transformers'
    ``_dequantize_embeddings``). binary/ubinary: the sign vector, +1 for a set bit and -1
    otherwise (the padding bits of the last byte dropped).
    """
    if precision in ("binary", "ubinary"):
        bits = np.unpackbits(_unsigned_bits(packed, precision), axis=-1)[..., :dim]
        return bits.astype(np.float64) * 2 - 1
    assert ranges is not None
    bounds = ranges.astype(np.float32, copy=False)
    steps = (bounds[1] - bounds[0]) / 255
    steps = np.where(steps == 0, 1, steps)
    values = packed.astype(np.float64)
    if precision == "int8":
        values += 128
    return values * steps + bounds[0]


def _unsigned_bits(packed: np.ndarray, precision: str) -> np.ndarray:
    """The packed bytes as np.packbits made them (binary stores each one minus 128)."""
    if precision == "binary":
        return (packed.astype(np.int16) + 128).astype(np.uint8)
    return packed.astype(np.uint8, copy=False)


def _float_matrix(vectors: object, what: str) -> np.ndarray:
    """A float ``(n, d)`` or ``(d,)`` array with values, checked; the float dtype is kept so
    the arithmetic is sentence-transformers' to the bit."""
    from .results import Embeddings

    if isinstance(vectors, Embeddings):
        vectors = vectors.vectors
    array = np.asarray(vectors) if isinstance(vectors, np.ndarray | list | tuple) else None
    if array is None or array.dtype.kind not in "fiu":
        raise InvalidInputError(
            f"{what} must be Embeddings or a float array of vectors, not {type(vectors).__name__}"
        )
    if array.dtype.kind in "iu":
        raise InvalidInputError(
            f"{what} are {array.dtype} already; quantise the float vectors they came from"
        )
    if array.ndim not in (1, 2) or array.size == 0:
        raise InvalidInputError(
            f"{what} are empty or not 1-D/2-D (shape {array.shape}); there is nothing to "
            "quantise: pass at least one vector of at least one dimension"
        )
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(np.atleast_2d(array)).all(axis=1))
        raise InvalidInputError(
            f"{what} hold NaN or infinite values (rows {', '.join(map(str, bad[:5]))}"
            f"{', ...' if len(bad) > 5 else ''}); drop or fix those rows before quantising"
        )
    return array


def _ranges(data: np.ndarray, d: int, calibration: object, ranges: object) -> np.ndarray:
    """The ``(2, d)`` float32 [min; max] rows that set the int8/uint8 buckets."""
    if ranges is not None:
        bounds = np.asarray(ranges) if isinstance(ranges, np.ndarray | list | tuple) else None
        if bounds is None or bounds.shape != (2, d) or bounds.dtype.kind != "f":
            raise InvalidInputError(
                f"ranges must be a (2, {d}) float array of per-dimension [min; max], not "
                f"{getattr(bounds, 'shape', type(ranges).__name__)}; use a result's .ranges"
            )
        if not np.isfinite(bounds).all() or (bounds[0] > bounds[1]).any():
            raise InvalidInputError("ranges must be finite, with each min <= its max")
        return bounds.astype(np.float32, copy=False)
    if calibration is None:
        if data.ndim == 1 or data.shape[0] == 1:
            raise InvalidInputError(
                "int8/uint8 ranges cannot come from a single vector; pass calibration= "
                "vectors (say, the corpus) or ranges= an earlier result's .ranges"
            )
        sample = data
    else:
        sample = np.atleast_2d(_float_matrix(calibration, "the calibration vectors"))
        if sample.shape[1] != d or sample.shape[0] < 2:
            raise InvalidInputError(
                f"calibration must be at least 2 vectors of {d} dimensions (like the vectors "
                f"quantised), not shape {sample.shape}"
            )
    return np.vstack((sample.min(axis=0), sample.max(axis=0))).astype(np.float32)
