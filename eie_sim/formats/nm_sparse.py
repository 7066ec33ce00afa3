"""N:M structured-sparse weights: the compressed format of the sparse tensor core (operand A).

A weight matrix ``W`` of shape ``(rows, cols)`` (rows = layer outputs, cols = inputs, the GEMM's
K axis) satisfies the **N:M pattern** when every group of ``M`` consecutive inputs of a row holds
at most ``N`` non-zeros (NVIDIA Ampere/Hopper: 2:4). It is stored as

* ``values``: ``(rows, groups, N)`` kept values, in the dtype of the input (fp16, int8, ...);
* ``indices``: ``(rows, groups, N)`` in-group positions ``0..M-1`` of the kept values,
  distinct and ascending within a group: each costs ``ceil(log2 M)`` bits of **metadata**.

``groups = ceil(cols / M)``: a last partial group is padded with zero columns. A group with fewer
than ``N`` non-zeros still stores ``N`` values: the missing ones are explicit zeros at the lowest
unused positions (the hardware always reads ``N`` values and ``N`` indices per group).

Sizes are exact: ``metadata_bits = rows * groups * N * ceil(log2 M)`` and
``metadata_bytes = ceil(metadata_bits / 8)`` (packed, no per-row alignment). For fp16 2:4 a
group of 4 inputs costs 2 x 16 + 2 x 2 = 36 bits instead of 64: 9/16 of dense; int8 2:4 costs
2 x 8 + 2 x 2 = 20 bits instead of 32: 10/16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.compress.pruning import nm_prune
from eie_sim.errors import WorkloadError


def index_bits(m: int) -> int:
    """Bits of one in-group index for groups of ``m`` inputs: ``ceil(log2 m)``."""
    return max(1, math.ceil(math.log2(m)))


def check_pattern(n: int, m: int) -> None:
    """Refuse a pattern that is not ``1 <= N <= M`` with ``M >= 2`` (WorkloadError)."""
    for name, v in (("N", n), ("M", m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise WorkloadError(f"N:M pattern {name} must be an integer, got {v!r}")
    if not (m >= 2 and 1 <= n <= m):
        raise WorkloadError(f"N:M pattern needs 1 <= N <= M and M >= 2, got {n}:{m}")


@dataclass(frozen=True, eq=False)
class NMSparse:
    """N:M-compressed weights (kept values + per-value in-group indices).

    Attributes
    ----------
    n, m : int
        The pattern: at most ``n`` non-zeros in every ``m`` consecutive inputs.
    shape : tuple of int
        Dense shape ``(rows, cols)``; ``cols`` need not be a multiple of ``m``.
    values : numpy.ndarray, shape (rows, groups, n)
        Kept values (dtype of the dense input: float16, int8, float64, ...).
    indices : numpy.ndarray of uint8, shape (rows, groups, n)
        In-group position of each kept value, distinct and ascending within a group.
    """

    n: int
    m: int
    shape: tuple[int, int]
    values: np.ndarray
    indices: np.ndarray

    # ------------------------------------------------------------------ sizes
    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return self.shape[1]

    @property
    def groups(self) -> int:
        """Groups of ``m`` inputs per row (the last one zero-padded if ``cols % m``)."""
        return -(-self.cols // self.m)

    @property
    def kept(self) -> int:
        """Stored values (explicit zeros of under-full groups included)."""
        return self.rows * self.groups * self.n

    @property
    def index_bits(self) -> int:
        """Metadata bits per kept value, ``ceil(log2 m)`` (2 for M = 4, 3 for M = 8)."""
        return index_bits(self.m)

    @property
    def value_bits(self) -> int:
        """Bits per stored value (16 for fp16, 8 for int8)."""
        return self.values.dtype.itemsize * 8

    @property
    def metadata_bits(self) -> int:
        """Exact metadata size, bits."""
        return self.kept * self.index_bits

    @property
    def metadata_bytes(self) -> int:
        """Metadata size in bytes, ``ceil(metadata_bits / 8)`` (packed)."""
        return -(-self.metadata_bits // 8)

    @property
    def value_bytes(self) -> int:
        """Bytes of the kept values."""
        return self.kept * self.values.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Compressed size: values + metadata, bytes."""
        return self.value_bytes + self.metadata_bytes

    @property
    def dense_bytes(self) -> int:
        """Size of the same matrix stored dense in the same dtype, bytes."""
        return self.rows * self.cols * self.values.dtype.itemsize

    @property
    def compression_ratio(self) -> float:
        """``nbytes / dense_bytes`` (9/16 for fp16 2:4 when ``cols % 4 == 0``)."""
        return self.nbytes / self.dense_bytes

    @property
    def nnz(self) -> int:
        """Non-zero kept values."""
        return int(np.count_nonzero(self.values))

    # ------------------------------------------------------------------ views
    def absolute_indices(self) -> np.ndarray:
        """Input (column) index of every kept value, int64 of shape ``(rows, groups * n)``,
        ascending along each row (columns ``>= cols`` are the padding of the last group)."""
        base = (np.arange(self.groups, dtype=np.int64) * self.m)[None, :, None]
        return (base + self.indices.astype(np.int64)).reshape(self.rows, -1)

    def decompress(self) -> np.ndarray:
        """The dense ``(rows, cols)`` matrix, in the dtype of ``values``."""
        dense = np.zeros((self.rows, self.groups * self.m), dtype=self.values.dtype)
        rows = np.arange(self.rows)[:, None]
        dense[rows, self.absolute_indices()] = self.values.reshape(self.rows, -1)
        return dense[:, : self.cols]

    def astype(self, dtype) -> NMSparse:
        """The same structure with values converted to ``dtype`` (positions unchanged)."""
        return NMSparse(self.n, self.m, self.shape, self.values.astype(dtype), self.indices)


def first_violation(dense: np.ndarray, n: int, m: int) -> tuple[int, int, int] | None:
    """``(row, group, non-zeros)`` of the first group (row-major) with more than ``n``
    non-zeros, or None when ``dense`` satisfies the N:M pattern."""
    w = _pad_cols(np.asarray(dense), m)
    counts = np.count_nonzero(w.reshape(w.shape[0], -1, m), axis=2)
    bad = np.argwhere(counts > n)
    if bad.size == 0:
        return None
    r, g = (int(v) for v in bad[0])
    return r, g, int(counts[r, g])


def _pad_cols(w: np.ndarray, m: int) -> np.ndarray:
    pad = -w.shape[1] % m
    if pad:
        w = np.concatenate([w, np.zeros((w.shape[0], pad), dtype=w.dtype)], axis=1)
    return w


def compress(dense: np.ndarray, n: int = 2, m: int = 4, *, prune: bool = False) -> NMSparse:
    """Compress a dense ``(rows, cols)`` matrix to the N:M format.

    Parameters
    ----------
    dense : numpy.ndarray, shape (rows, cols)
        Weights (rows = outputs, cols = inputs). Kept values keep this dtype.
    n, m : int
        The pattern (2:4 by default; 1:4, 2:8, 4:8, ...).
    prune : bool
        False (default) refuses a matrix that violates the pattern; True first applies N:M
        magnitude pruning (:func:`eie_sim.compress.pruning.nm_prune`: keep the ``n``
        largest magnitudes of every group, ties to the earlier input).

    Returns
    -------
    NMSparse

    Raises
    ------
    WorkloadError
        One line naming the first violating row and group and the allowed fixes.
    """
    check_pattern(n, m)
    w = np.asarray(dense)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise WorkloadError(f"N:M compression needs a 2-D (rows, cols) matrix, got {w.shape}")
    rows, cols = w.shape
    wp = _pad_cols(w, m)
    if prune:
        wp = np.where(nm_prune(wp, n, m), wp, np.zeros((), dtype=wp.dtype))
    else:
        bad = first_violation(wp, n, m)
        if bad is not None:
            r, g, c = bad
            raise WorkloadError(
                f"weights violate the {n}:{m} pattern: row {r}, group {g} (inputs {g * m}.."
                f"{min(g * m + m, cols) - 1}) has {c} non-zeros, at most {n} allowed; "
                f"allowed: prune them (prune=True, CLI --prune) or a denser pattern"
            )
    groups = wp.reshape(rows, -1, m)
    # Non-zeros first (by position), then the lowest unused positions; keep n, sort ascending:
    # a position is kept when fewer than n positions of its group have a smaller key (keys are
    # distinct), and np.nonzero lists the kept positions of each group in ascending order.
    pos = np.arange(m, dtype=np.int16)
    key = np.where(groups != 0, pos, np.int16(m) + pos)
    rank = np.zeros(key.shape, dtype=np.int16)
    for i in range(m):
        rank += key[:, :, i : i + 1] < key
    keep = (rank < n).reshape(-1, m)
    chosen = np.nonzero(keep)[1].reshape(rows, -1, n)
    values = np.take_along_axis(groups, chosen, axis=2)
    return NMSparse(n, m, (rows, cols), np.ascontiguousarray(values), chosen.astype(np.uint8))
