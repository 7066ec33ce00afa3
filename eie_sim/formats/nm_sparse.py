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

from eie_sim.compress.pruning import nm_keep_block
from eie_sim.errors import WorkloadError

#: Groups of M inputs compress() handles together (its temporaries stay in cache).
BLOCK_GROUPS = 1 << 16


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
        return int(np.count_nonzero(nonzero_mask(self.values)))

    # ------------------------------------------------------------------ views
    def absolute_indices(self) -> np.ndarray:
        """Input (column) index of every kept value, int64 of shape ``(rows, groups * n)``,
        ascending along each row (columns ``>= cols`` are the padding of the last group)."""
        cols = self.indices.astype(np.int64)
        cols += (np.arange(self.groups, dtype=np.int64) * self.m)[:, None]
        return cols.reshape(self.rows, -1)

    def decompress(self) -> np.ndarray:
        """The dense ``(rows, cols)`` matrix, in the dtype of ``values``."""
        dense = np.zeros((self.rows, self.groups * self.m), dtype=self.values.dtype)
        step = max(1, BLOCK_GROUPS // self.groups)  # rows per block
        start = (np.arange(step * self.groups, dtype=np.intp) * self.m).reshape(step, -1, 1)
        for r0 in range(0, self.rows, step):
            indices = self.indices[r0 : r0 + step]
            flat = indices.astype(np.intp)  # index into the block's dense.reshape(-1)
            flat += start[: indices.shape[0]]
            dense[r0 : r0 + step].reshape(-1)[flat] = self.values[r0 : r0 + step]
        return dense[:, : self.cols]

    def replace_values(self, values: np.ndarray) -> NMSparse:
        """:func:`compress` of this matrix (as :meth:`decompress` gives it) with its kept
        values replaced by ``values`` (same shape, any dtype), for an NMSparse made by
        :func:`compress`. The positions stay, except in the groups where a non-zero value
        becomes zero: those are compressed again (non-zeros first, then the lowest zero
        positions)."""
        values = np.asarray(values)
        if values.shape != self.values.shape:
            raise ValueError(f"values have shape {values.shape}, expected {self.values.shape}")
        n = self.n
        emptied = nonzero_mask(self.values) & ~nonzero_mask(values)
        indices = self.indices
        if emptied.any():
            redo = np.unique(np.flatnonzero(emptied) // n)  # flat group numbers
            dense = np.zeros((redo.size, self.m), dtype=values.dtype)  # one group per row
            np.put_along_axis(dense, indices.reshape(-1, n)[redo].astype(np.intp),
                              values.reshape(-1, n)[redo], axis=1)
            again = compress(dense, n, self.m)
            values, indices = values.copy(), indices.copy()
            values.reshape(-1, n)[redo] = again.values.reshape(-1, n)
            indices.reshape(-1, n)[redo] = again.indices.reshape(-1, n)
        return NMSparse(n, self.m, self.shape, values, indices)

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
    groups = -(-cols // m)
    values = np.empty((rows, groups, n), dtype=w.dtype)
    indices = np.empty((rows, groups, n), dtype=np.uint8)
    step = max(1, BLOCK_GROUPS // groups)  # rows per block
    for r0 in range(0, rows, step):
        block = _pad_cols(w[r0 : r0 + step], m).reshape(-1, m)  # (groups of the rows, m)
        keep = None
        if prune:
            # Without NaN the pruning mask is what compress keeps of the pruned block: the
            # n largest magnitudes are its non-zeros and, in a group with fewer, its lowest
            # zeros (equal magnitudes, the earlier first). A NaN ranks below zero, so where
            # one is dropped a lower zero slot opens: compress the pruned block instead.
            keep, has_nan = nm_keep_block(block, n)  # (m, groups), n per group
            if has_nan:
                block = np.where(keep.T, block, np.zeros((), dtype=block.dtype))
                keep = None
        if keep is None:
            keep = _kept(block, n)
            if keep is None:
                raise _violation(w[r0 : r0 + step], n, m, r0)
        kept_values = values[r0 : r0 + step].reshape(-1, n)
        kept_indices = indices[r0 : r0 + step].reshape(-1, n)
        start = np.arange(block.shape[0], dtype=np.intp) * m  # of each group in block.ravel()
        for t, position in enumerate(_positions(keep, n)):
            kept_indices[:, t] = position
            flat = position.astype(np.intp)
            flat += start
            kept_values[:, t] = np.take(block.ravel(), flat)
    return NMSparse(n, m, (rows, cols), values, indices)


def nonzero_mask(a: np.ndarray) -> np.ndarray:
    """``a != 0`` elementwise (NaN counts as non-zero); float16 by its bits, as numpy
    compares float16 slowly: +-0 are the only values with every bit but the sign clear."""
    if a.dtype == np.float16:
        return (a.view(np.uint16) & 0x7FFF) != 0
    return a != 0


def _running_sums(flags: np.ndarray) -> np.ndarray:
    """Running sums of a ``(m, groups)`` bool array down axis 0, in the smallest unsigned
    type that holds ``2 m + 1`` (room for the comparison in :func:`_kept`)."""
    sums = np.empty(flags.shape, dtype=np.min_scalar_type(2 * flags.shape[0] + 1))
    sums[0] = flags[0]
    for p in range(1, flags.shape[0]):
        np.add(sums[p - 1], flags[p], out=sums[p])
    return sums


def _kept(groups: np.ndarray, n: int) -> np.ndarray | None:
    """The positions compress() keeps of a ``(groups, m)`` block of a matrix that satisfies
    the pattern, as an ``(m, groups)`` mask with ``n`` per column: the non-zeros, then the
    lowest zero positions. None if a group has more than ``n`` non-zeros."""
    m = groups.shape[1]
    nonzero = np.empty(groups.shape[::-1], dtype=bool)
    for p in range(m):
        nonzero[p] = nonzero_mask(groups[:, p])
    nonzeros_through = _running_sums(nonzero)  # row p: non-zeros at positions <= p
    count = nonzeros_through[-1]
    if count.max(initial=0) > n:
        return None
    # A zero at p is kept while the zeros through p, p + 1 - nonzeros_through[p], are at most
    # n - count: p + 1 + count <= n + nonzeros_through[p] (no negative numbers).
    rank_if_zero = np.arange(1, m + 1, dtype=nonzeros_through.dtype)[:, None] + count
    return nonzero | (rank_if_zero <= nonzeros_through + n)


def _positions(keep: np.ndarray, n: int) -> np.ndarray:
    """``(n, groups)``: the positions of the ``n`` True of every column of the ``(m, groups)``
    mask ``keep``, ascending along axis 0 (dtype of :func:`_running_sums`)."""
    kept_through = _running_sums(keep)
    # The t-th kept position (from 0) is the number of positions p before it: those with
    # kept_through[p] <= t.
    positions = np.zeros((n, keep.shape[1]), dtype=kept_through.dtype)
    for t in range(n):
        for p in range(keep.shape[0]):
            positions[t] += kept_through[p] <= t
    return positions


def _violation(rows: np.ndarray, n: int, m: int, row0: int) -> WorkloadError:
    """The refusal naming the first group of ``rows`` (rows ``row0...`` of the matrix) with
    more than ``n`` non-zeros."""
    r, g, c = first_violation(rows, n, m)
    cols = rows.shape[1]
    return WorkloadError(
        f"weights violate the {n}:{m} pattern: row {row0 + r}, group {g} (inputs {g * m}.."
        f"{min(g * m + m, cols) - 1}) has {c} non-zeros, at most {n} allowed; "
        f"allowed: prune them (prune=True, CLI --prune) or a denser pattern"
    )
