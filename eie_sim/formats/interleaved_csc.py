"""EIE's interleaved CSC format: the contents of every PE's sparse-matrix and pointer SRAMs.

Partitioning (paper §III): PE ``k`` of ``N`` owns output rows ``i`` with ``i mod N == k``; its
local row is ``i // N``. Each PE stores its slice of every column as a list of 8-bit entries
``(v, z)``: ``v`` the 4-bit codebook index, ``z`` the count of zeros since the previous entry of
the same column slice (the *relative row index*, ``relative_index_bits`` wide, 4 in the paper).
A zero run longer than ``2**bits - 1`` inserts padding entries ``(v=0, z=2**bits - 1)``; each
padding entry stands for ``2**bits`` rows (its zeros and its own position). Example from the
paper: ``[0,0,1,2,0*18,3]`` -> ``v=[1,2,0,3]``, ``z=[2,0,15,2]``.

Output batches ("passes"): a PE's destination register file holds ``rows_per_pass`` (64)
accumulators, so when a PE owns more rows the layer runs in several passes; pass ``p`` covers
local rows ``[p*R, (p+1)*R)``. Each pass has its own column slices (relative indices restart at
the pass's first row) and its own pointers. A PE's SRAM holds pass 0's columns, then pass 1's,
..., so addresses increase in processing order.

Pointers: ``ptr[k, p*n_cols + j]`` is the local address of the first entry of column ``j`` in
pass ``p`` of PE ``k``; the column has ``ptr[k, p*n_cols + j + 1] - ptr[k, p*n_cols + j]``
entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class InterleavedCSC:
    """Per-PE encoded layer.

    The pointers and the per-slice summaries are computed when the layer is encoded; the
    entries themselves (``v``, ``z``) are built on first access, because only the SimPy engine
    and the tests read them (the vectorised engine works from the summaries).

    Attributes
    ----------
    num_pes : int
        N, the number of PEs.
    passes : int
        Output passes (batches of ``rows_per_pass`` rows per PE).
    rows_per_pass : int
        R, accumulators per PE (destination register file entries).
    n_cols : int
        Encoded columns: inputs, plus one for the bias when the layer has one.
    relative_index_bits : int
        Width of ``z`` in bits.
    pe_offset : numpy.ndarray of int64, shape (N + 1,)
        Start of each PE's entries in ``v``/``z``.
    ptr : numpy.ndarray of int64, shape (N, passes * n_cols + 1)
        Local (per-PE) entry addresses, see the module docstring.
    slice_padding, slice_first_row, slice_last_row : numpy.ndarray of int32, (N, passes, n_cols)
        Summaries of each column slice, derivable from ``v``/``z`` and kept so the vectorised
        engine need not decode every entry: padding entries, and the local row of the first and
        last real entry (-1 for an empty slice). The first entry is padding iff
        ``slice_first_row > max_run``.
    source : tuple
        The CSC ``(col_ptr, row_idx, idx, extra_column)`` that was encoded (what ``v``/``z``
        are built from).
    """

    num_pes: int
    passes: int
    rows_per_pass: int
    n_cols: int
    relative_index_bits: int
    pe_offset: np.ndarray
    ptr: np.ndarray
    slice_padding: np.ndarray
    slice_first_row: np.ndarray
    slice_last_row: np.ndarray
    source: tuple = field(repr=False)

    @property
    def max_run(self) -> int:
        """Largest zero run one entry can skip: ``2**relative_index_bits - 1``."""
        return (1 << self.relative_index_bits) - 1

    @property
    def v(self) -> np.ndarray:
        """uint8 codebook index of every entry (0 = padding), all PEs, PE-major: PE ``k``
        owns ``v[pe_offset[k]:pe_offset[k+1]]``."""
        return self._entries[0]

    @property
    def z(self) -> np.ndarray:
        """uint8 relative row index (zeros before the entry) of every entry, as ``v``."""
        return self._entries[1]

    @cached_property
    def _entries(self) -> tuple[np.ndarray, np.ndarray]:
        return _entries(self)

    def entry_counts(self) -> np.ndarray:
        """Entries (padding included) per PE, pass and column: shape (N, passes, n_cols)."""
        return np.diff(self.ptr, axis=1).reshape(self.num_pes, self.passes, self.n_cols)

    def entries_per_pe(self) -> np.ndarray:
        """Stored entries per PE (padding included), shape (N,)."""
        return np.diff(self.pe_offset)

    def pe_entries(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(v, z)`` of PE ``k``."""
        s, e = self.pe_offset[k], self.pe_offset[k + 1]
        return self.v[s:e], self.z[s:e]


def num_passes(n_out: int, num_pes: int, rows_per_pass: int) -> int:
    """Output passes needed: PE 0 owns ceil(n_out / N) rows, R per pass."""
    rows_pe0 = -(-n_out // num_pes)
    return max(1, -(-rows_pe0 // rows_per_pass))


def _split_rows(row_idx: np.ndarray, n: int, passes: int, rows_per_pass: int):
    """``(group, local row)`` of every entry: group ``k * passes + p`` (PE ``k``, pass ``p``),
    int32 (rows < 2**31); shifts and masks when N and R are powers of two."""
    rows = np.asarray(row_idx, dtype=np.int32)
    if n & (n - 1) == 0:
        shift = n.bit_length() - 1
        local, pe = rows >> shift, rows & np.int32(n - 1)
    else:
        local, pe = np.divmod(rows, np.int32(n))
    if passes == 1:
        return pe, local
    pas, lrow = np.divmod(local, np.int32(rows_per_pass))
    pe *= np.int32(passes)
    pe += pas
    return pe, lrow


def _by_slice(col_ptr, row_idx, n, passes, rows_per_pass):
    """The entries grouped by slice: ``(seg, lrow, order)`` with ``order`` the stable radix
    sort by (PE, pass) group (which keeps each group's entries in (column, row) order), ``seg``
    the slice ``group * n_cols + column`` and ``lrow`` the local row of each sorted entry."""
    n_cols = col_ptr.size - 1
    groups = n * passes
    group, lrow = _split_rows(row_idx, n, passes, rows_per_pass)
    key_dtype = np.uint8 if groups <= 1 << 8 else np.uint16 if groups <= 1 << 16 else np.int64
    order = np.argsort(group.astype(key_dtype), kind="stable")
    seg_dtype = np.int32 if groups * n_cols < 1 << 31 else np.int64
    seg = np.repeat(np.arange(0, groups * n_cols, n_cols, dtype=seg_dtype),
                    np.bincount(group, minlength=groups))
    seg += np.repeat(np.arange(n_cols, dtype=np.int32), np.diff(col_ptr))[order]
    lrow = lrow[order]
    return seg, lrow, order


def _summaries_numpy(col_ptr, row_idx, n, passes, rows_per_pass, span):
    """Entries (real + padding), padding, first and last local row of every (group, column) slice,
    each of shape (groups, n_cols): one stable radix sort by group keeps each group's entries
    in (column, row) order; the zero gaps give the padding."""
    n_cols = col_ptr.size - 1
    groups = n * passes
    seg, lrow, _ = _by_slice(col_ptr, row_idx, n, passes, rows_per_pass)
    n_seg = groups * n_cols
    real = np.bincount(seg, minlength=n_seg)
    first_row = np.full(n_seg, -1, dtype=np.int32)
    last_row = np.full(n_seg, -1, dtype=np.int32)
    padding = np.zeros(n_seg, dtype=np.int64)
    if seg.size:
        same = seg[1:] == seg[:-1]
        starts = np.flatnonzero(np.r_[True, ~same])
        ends = np.r_[starts[1:] - 1, seg.size - 1]
        first_row[seg[starts]] = lrow[starts]
        last_row[seg[ends]] = lrow[ends]
        # Zeros before each entry within its slice; a run of ``span`` or more needs padding.
        gap = np.empty_like(lrow)
        gap[0] = lrow[0]
        np.subtract(lrow[1:], np.where(same, lrow[:-1] + 1, 0), out=gap[1:])
        padded = np.flatnonzero(gap >= span)
        if padded.size:
            padding = np.bincount(seg[padded], weights=gap[padded] // span, minlength=n_seg)
            padding = padding.astype(np.int64)
    shape = (groups, n_cols)
    return ((real + padding).reshape(shape), padding.reshape(shape), first_row.reshape(shape),
            last_row.reshape(shape))


def encode(
    col_ptr: np.ndarray,
    row_idx: np.ndarray,
    idx: np.ndarray,
    n_out: int,
    *,
    num_pes: int,
    rows_per_pass: int,
    relative_index_bits: int = 4,
    extra_column: tuple[np.ndarray, np.ndarray] | None = None,
) -> InterleavedCSC:
    """Encode a CSC matrix (codebook indices ``idx`` in 1..15) for ``num_pes`` PEs;
    ``extra_column`` = ``(rows, idx)`` is one more column after the matrix's (the bias column,
    without copying the matrix to append it).

    One pass over the entries gives every column slice's real entries, padding and first and
    last row (a compiled kernel when :mod:`eie_sim.accel` has one, else a stable radix sort in
    numpy); the pointers are their running sums. Memory and time grow with the non-zeros.
    """
    from eie_sim import accel

    n = num_pes
    passes = num_passes(n_out, n, rows_per_pass)
    span = 1 << relative_index_bits
    source = (col_ptr, row_idx, idx, extra_column)
    if accel.kernels() is not None:
        entries, padding, first_row, last_row = accel.slice_summaries(
            col_ptr, row_idx, n, passes, rows_per_pass, relative_index_bits,
            None if extra_column is None else extra_column[0])
    else:
        col_ptr, row_idx, idx = _with_extra(*source)
        entries, padding, first_row, last_row = _summaries_numpy(
            col_ptr, row_idx, n, passes, rows_per_pass, span)
    n_cols = entries.shape[1]
    # Entry counts per (PE, pass, column) -> pointers.
    ptr = np.zeros((n, passes * n_cols + 1), dtype=np.int64)
    np.cumsum(entries.reshape(n, passes * n_cols), axis=1, out=ptr[:, 1:])
    pe_offset = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ptr[:, -1], out=pe_offset[1:])
    shape = (n, passes, n_cols)
    return InterleavedCSC(
        num_pes=n,
        passes=passes,
        rows_per_pass=rows_per_pass,
        n_cols=n_cols,
        relative_index_bits=relative_index_bits,
        pe_offset=pe_offset,
        ptr=ptr,
        slice_padding=padding.astype(np.int32, copy=False).reshape(shape),
        slice_first_row=first_row.reshape(shape),
        slice_last_row=last_row.reshape(shape),
        source=source,
    )


def _with_extra(col_ptr, row_idx, idx, extra_column):
    """The CSC with ``extra_column`` appended (unchanged without one)."""
    if extra_column is None:
        return col_ptr, row_idx, idx
    rows, vals = extra_column
    return (np.append(col_ptr, col_ptr[-1] + rows.size),
            np.concatenate([np.asarray(row_idx, dtype=np.int32), np.asarray(rows, np.int32)]),
            np.concatenate([np.asarray(idx, dtype=np.uint8), np.asarray(vals, np.uint8)]))


def _entries(enc: InterleavedCSC) -> tuple[np.ndarray, np.ndarray]:
    """``(v, z)`` of ``enc``: the real entries grouped by (PE, pass) in (column, row) order,
    each after its slice's earlier entries and its own padding."""
    col_ptr, row_idx, idx = _with_extra(*enc.source)
    span = 1 << enc.relative_index_bits
    seg, lrow, order = _by_slice(col_ptr, row_idx, enc.num_pes, enc.passes, enc.rows_per_pass)
    total = int(enc.pe_offset[-1])
    v = np.zeros(total, dtype=np.uint8)
    z = np.full(total, span - 1, dtype=np.uint8)
    if not seg.size:
        return v, z
    prev = np.empty_like(lrow)
    prev[0] = -1
    same = seg[1:] == seg[:-1]
    prev[1:] = np.where(same, lrow[:-1], -1)
    npad, zreal = np.divmod(lrow - prev - 1, np.int32(span))
    # Position of each real entry: after all earlier entries and its own padding.
    pos = npad.astype(np.int64)
    pos += 1
    np.cumsum(pos, out=pos)
    pos -= 1
    v[pos] = np.asarray(idx, dtype=np.uint8)[order]
    z[pos] = zreal.astype(np.uint8)
    return v, z


def decode_rows(enc: InterleavedCSC) -> tuple[np.ndarray, np.ndarray]:
    """Global output row and column of every stored entry (padding included), PE-major order.

    The row of an entry is its PE's local-row accumulation ``sum(z + 1) - 1`` over the slice,
    mapped back to the global row ``k + N * (p * R + local)``.
    """
    n, passes, n_cols = enc.num_pes, enc.passes, enc.n_cols
    counts = enc.entry_counts().reshape(-1)  # segments in PE-major storage order
    seg = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    step = enc.z.astype(np.int64) + 1
    csum = np.cumsum(step)
    seg_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    before = np.concatenate([[0], csum])[seg_start]  # cumsum just before each segment
    lrow = csum - before[seg] - 1
    k = seg // (passes * n_cols)
    p = (seg // n_cols) % passes
    col = seg % n_cols
    return k + n * (p * enc.rows_per_pass + lrow), col


def decode(enc: InterleavedCSC, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Invert :func:`encode`: return the CSC ``(col_ptr, row_idx, idx)`` without padding."""
    rows, cols = decode_rows(enc)
    real = enc.v != 0
    rows, cols, vals = rows[real], cols[real], enc.v[real]
    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    col_ptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=enc.n_cols))])
    if rows.size and rows.max() >= n_out:
        raise ValueError("decoded a row beyond the layer's outputs: corrupt encoding")
    return col_ptr.astype(np.int64), rows.astype(np.int32), vals
