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

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class InterleavedCSC:
    """Per-PE encoded layer.

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
    v, z : numpy.ndarray of uint8
        All PEs' entries, PE-major: PE ``k`` owns ``v[pe_offset[k]:pe_offset[k+1]]``.
    pe_offset : numpy.ndarray of int64, shape (N + 1,)
        Start of each PE's entries in ``v``/``z``.
    ptr : numpy.ndarray of int64, shape (N, passes * n_cols + 1)
        Local (per-PE) entry addresses, see the module docstring.
    slice_padding, slice_first_row, slice_last_row : numpy.ndarray of int32, (N, passes, n_cols)
        Summaries of each column slice, derivable from ``v``/``z`` and kept so the vectorised
        engine need not decode every entry: padding entries, and the local row of the first and
        last real entry (-1 for an empty slice). The first entry is padding iff
        ``slice_first_row > max_run``.
    """

    num_pes: int
    passes: int
    rows_per_pass: int
    n_cols: int
    relative_index_bits: int
    v: np.ndarray
    z: np.ndarray
    pe_offset: np.ndarray
    ptr: np.ndarray
    slice_padding: np.ndarray
    slice_first_row: np.ndarray
    slice_last_row: np.ndarray

    @property
    def max_run(self) -> int:
        """Largest zero run one entry can skip: ``2**relative_index_bits - 1``."""
        return (1 << self.relative_index_bits) - 1

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


def encode(
    col_ptr: np.ndarray,
    row_idx: np.ndarray,
    idx: np.ndarray,
    n_out: int,
    *,
    num_pes: int,
    rows_per_pass: int,
    relative_index_bits: int = 4,
) -> InterleavedCSC:
    """Encode a CSC matrix (codebook indices ``idx`` in 1..15) for ``num_pes`` PEs.

    Vectorised: one stable radix sort by (PE, pass) keeps each group's entries in
    (column, row) order; zero gaps give the padding counts; one scatter builds ``v``/``z``.
    Memory and time grow with the non-zeros.
    """
    n_cols = col_ptr.size - 1
    n = num_pes
    passes = num_passes(n_out, n, rows_per_pass)
    groups = n * passes
    zmax = (1 << relative_index_bits) - 1
    span = zmax + 1
    # int32 per-entry arithmetic (rows, columns < 2**31) halves memory traffic.
    local, pe = np.divmod(np.asarray(row_idx, dtype=np.int32), np.int32(n))
    if passes == 1:
        group, lrow = pe, local
    else:
        pas, lrow = np.divmod(local, np.int32(rows_per_pass))
        group = pe * np.int32(passes) + pas
    # Stable radix sort on the smallest key type keeps (column, row) order within a group.
    key_dtype = np.uint8 if groups <= 1 << 8 else np.uint16 if groups <= 1 << 16 else np.int64
    order = np.argsort(group.astype(key_dtype), kind="stable")
    per_group = np.bincount(group, minlength=groups)
    seg_dtype = np.int32 if groups * n_cols < 1 << 31 else np.int64
    seg = np.repeat(np.arange(0, groups * n_cols, n_cols, dtype=seg_dtype), per_group)
    seg += np.repeat(np.arange(n_cols, dtype=np.int32), np.diff(col_ptr))[order]
    lrow = lrow[order]
    vals = np.asarray(idx, dtype=np.uint8)[order]

    # Zeros before each entry within its (PE, pass, column) slice ``seg``.
    prev = np.empty_like(lrow)
    prev[0:1] = -1
    same = seg[1:] == seg[:-1]
    prev[1:] = np.where(same, lrow[:-1], -1)
    gap = lrow - prev - 1
    npad, zreal = np.divmod(gap, np.int32(span))

    # Per-slice summaries: padding, first and last real row.
    n_seg = groups * n_cols
    padded = npad > 0
    pad_per_seg = np.zeros(n_seg, dtype=np.int64)
    if padded.any():
        pad_per_seg = np.bincount(seg[padded], weights=npad[padded], minlength=n_seg)
        pad_per_seg = pad_per_seg.astype(np.int64)
    first_row = np.full(n_seg, -1, dtype=np.int32)
    last_row = np.full(n_seg, -1, dtype=np.int32)
    if seg.size:
        starts = np.flatnonzero(np.r_[True, ~same])
        ends = np.r_[starts[1:] - 1, seg.size - 1]
        first_row[seg[starts]] = lrow[starts]
        last_row[seg[ends]] = lrow[ends]

    # Entry counts per (PE, pass, column) -> pointers.
    per_seg = np.bincount(seg, minlength=n_seg) + pad_per_seg
    ptr = np.zeros((n, passes * n_cols + 1), dtype=np.int64)
    np.cumsum(per_seg.reshape(n, passes * n_cols), axis=1, out=ptr[:, 1:])
    pe_offset = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ptr[:, -1], out=pe_offset[1:])

    total = int(pe_offset[-1])
    v = np.zeros(total, dtype=np.uint8)
    z = np.full(total, zmax, dtype=np.uint8)
    # Position of each real entry: after all earlier entries and its own padding (in place).
    pos = npad if total < 1 << 31 else npad.astype(np.int64)
    pos += 1
    np.cumsum(pos, out=pos)
    pos -= 1
    v[pos] = vals
    z[pos] = zreal.astype(np.uint8)
    return InterleavedCSC(
        num_pes=n,
        passes=passes,
        rows_per_pass=rows_per_pass,
        n_cols=n_cols,
        relative_index_bits=relative_index_bits,
        v=v,
        z=z,
        pe_offset=pe_offset,
        ptr=ptr,
        slice_padding=pad_per_seg.astype(np.int32).reshape(n, passes, n_cols),
        slice_first_row=first_row.reshape(n, passes, n_cols),
        slice_last_row=last_row.reshape(n, passes, n_cols),
    )


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
