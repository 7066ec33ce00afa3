"""A pruned, weight-shared, fixed-point FC layer: what every engine and the reference consume.

The layer computes ``b = W a + bias`` with ``W`` of shape ``(n_out, n_in)``. It is held in
compressed sparse column (CSC) form: memory grows with the non-zeros, never with
``n_out * n_in``. Each non-zero is a 4-bit index into a 16-entry codebook of int16 shared
weights with ``weight_frac_bits`` fraction bits; index 0 means zero and is never stored.

The bias is EIE's extra column (docs/MODEL.md): it is broadcast after the last input with the
activation value ``2**weight_frac_bits`` (1.0 in the weight format), so each product
``bias_codebook[i] * 2**f >> f`` equals the bias exactly. Bias values therefore live in the
*activation* format (``act_frac_bits``) in a second 16-entry codebook that the weight decoder
uses for that column. This is why weights have at most 14 fraction bits: 2**14 still fits the
16-bit activation register.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from eie_sim.compress.weight_sharing import kmeans_codebook
from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import ACT_FRAC_BITS, frac_bits_for, quantize, to_float

CODEBOOK_SIZE = 16
MAX_WEIGHT_FRAC_BITS = 14
#: The entry rules :func:`entry_problems` reports, as bits.
ROW_OUT_OF_RANGE, WEIGHT_INDEX_OUT_OF_RANGE, ROWS_NOT_INCREASING = 1, 2, 4


def entry_problems(col_ptr: np.ndarray, row_idx: np.ndarray, weight_idx: np.ndarray,
                   n_out: int) -> int:
    """Which entry rules a CSC layer breaks, as the bits above: a row outside ``[0, n_out)``,
    a weight index outside 1..15, rows not strictly increasing within a column. ``col_ptr`` must
    already be valid (starts at 0, non-decreasing, ends at the entries). One pass of the compiled
    loops (:mod:`eie_sim.accel`) for the usual dtypes, else numpy; the same bits either way."""
    from eie_sim import accel

    loops = accel.kernels()
    if (loops is not None and row_idx.dtype == np.int32 and weight_idx.dtype == np.uint8
            and col_ptr.dtype == np.int64):
        arrays = (np.ascontiguousarray(a) for a in (col_ptr, row_idx, weight_idx))
        args = (*arrays, n_out)
        problems = 0
        for part in accel.by_columns(lambda c_lo, c_hi: loops.csc_problems(*args, c_lo, c_hi),
                                     args[0]):
            problems |= part
        return problems
    problems = 0
    if row_idx.size and (row_idx.min() < 0 or row_idx.max() >= n_out):
        problems |= ROW_OUT_OF_RANGE
    if weight_idx.size and (weight_idx.min() < 1 or weight_idx.max() > 15):
        problems |= WEIGHT_INDEX_OUT_OF_RANGE
    if row_idx.size > 1:
        # Every step between consecutive entries must rise, except into a column's first entry
        # (int64 differences: no overflow whatever the rows).
        steps = np.diff(row_idx.astype(np.int64, copy=False))
        firsts = col_ptr[1:-1]
        steps[firsts[(firsts > 0) & (firsts < row_idx.size)] - 1] = 1
        if steps.min() <= 0:
            problems |= ROWS_NOT_INCREASING
    return problems


#: How a float bias is quantized (see :meth:`QuantizedLayer.from_sparse`).
BIAS_CODEBOOKS = ("separate", "weights")


def _bias_from_weight_codebook(bias: np.ndarray, codebook: np.ndarray, weight_frac_bits: int,
                               act_frac_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Bias codebook and indices when the bias shares the weight codebook: each bias takes the
    nearest shared weight (index 0 = zero = no bias for that row, ties to the lower index); the
    codebook entries are those weights in the activation format, rounded half up as the
    datapath rounds ``w * 2**act_frac_bits >> weight_frac_bits``."""
    real = to_float(codebook, weight_frac_bits)
    idx = np.abs(bias[:, None] - real[None, :]).argmin(axis=1).astype(np.uint8)
    shift = weight_frac_bits - act_frac_bits
    wide = codebook.astype(np.int64)
    act = (wide << -shift) if shift <= 0 else (wide + (1 << (shift - 1))) >> shift
    cb = np.clip(act, -(1 << 15), (1 << 15) - 1).astype(np.int16)
    cb[0] = 0
    return cb, idx


#: True while a layer is made from another one's entry arrays (col_ptr, row_idx, weight_idx,
#: n_out unchanged): they were checked when that layer was made, so they are not read again.
_entries_checked: ContextVar[bool] = ContextVar("entries_checked", default=False)

#: Values quantized at once by :meth:`QuantizedLayer.from_sparse` (cache-sized blocks).
_QUANTIZE_BLOCK = 1 << 16


def _quantize_blocks(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """``quantize(values, frac_bits)`` of a 1-D array of finite float64 values: the compiled loop
    on up to one thread per core (:mod:`eie_sim.accel`), else numpy a block at a time (the float
    temporaries stay cache-sized); the same result."""
    from eie_sim import accel

    values = np.ascontiguousarray(values.ravel(), dtype=np.float64)
    out = np.empty(values.size, dtype=np.int16)
    loops = accel.kernels()
    if loops is not None:
        accel.in_parts(lambda lo, hi: loops.quantize16(values, frac_bits, out, lo, hi),
                       values.size, values.size)
        return out
    for s in range(0, values.size, _QUANTIZE_BLOCK):
        out[s : s + _QUANTIZE_BLOCK] = quantize(values[s : s + _QUANTIZE_BLOCK], frac_bits)
    return out


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    """A compressed FC layer (CSC, 4-bit codebook indices, int16 codebooks).

    Attributes
    ----------
    name : str
        Label used in results.
    n_in, n_out : int
        Inputs (columns) and outputs (rows).
    col_ptr : numpy.ndarray of int64, shape (n_in + 1,)
        Column ``j`` holds entries ``col_ptr[j]:col_ptr[j+1]``.
    row_idx : numpy.ndarray of int32, shape (nnz,)
        Row of each entry, strictly increasing within a column.
    weight_idx : numpy.ndarray of uint8, shape (nnz,)
        Codebook index of each entry, 1..15.
    codebook : numpy.ndarray of int16, shape (16,)
        Shared weights with ``weight_frac_bits`` fraction bits; ``codebook[0] == 0``.
    weight_frac_bits : int
        Fraction bits of the shared weights, 0..14.
    bias_idx : numpy.ndarray of uint8, shape (n_out,), or None
        Bias codebook index per output (0 = no bias for that row); None = layer has no bias.
    bias_codebook : numpy.ndarray of int16, shape (16,), or None
        Bias values in the activation format; entry 0 is zero.
    act_frac_bits : int
        Fraction bits of the input and output activations (default 8: Q7.8).
    """

    name: str
    n_in: int
    n_out: int
    col_ptr: np.ndarray
    row_idx: np.ndarray
    weight_idx: np.ndarray
    codebook: np.ndarray
    weight_frac_bits: int
    bias_idx: np.ndarray | None = None
    bias_codebook: np.ndarray | None = None
    act_frac_bits: int = ACT_FRAC_BITS

    def __post_init__(self) -> None:
        def bad(msg: str) -> WorkloadError:
            return WorkloadError(f"layer {self.name!r}: {msg}")

        if self.n_in < 1 or self.n_out < 1:
            raise bad(
                f"shape must be at least 1 x 1, got {self.n_in} inputs x {self.n_out} outputs"
            )
        if self.col_ptr.shape != (self.n_in + 1,) or self.col_ptr[0] != 0:
            raise bad(f"col_ptr must have n_in + 1 = {self.n_in + 1} entries starting at 0")
        if np.any(np.diff(self.col_ptr) < 0) or self.col_ptr[-1] != self.row_idx.size:
            raise bad("col_ptr must be non-decreasing and end at the number of non-zeros")
        if self.weight_idx.shape != self.row_idx.shape:
            raise bad("row_idx and weight_idx must have the same length")
        problems = 0 if _entries_checked.get() else entry_problems(
            self.col_ptr, self.row_idx, self.weight_idx, self.n_out)
        if problems & ROW_OUT_OF_RANGE:
            raise bad(f"row indices must be in [0, {self.n_out})")
        if problems & WEIGHT_INDEX_OUT_OF_RANGE:
            raise bad("weight indices must be in 1..15 (0 is the zero/padding code)")
        if self.codebook.shape != (CODEBOOK_SIZE,) or self.codebook[0] != 0:
            raise bad("codebook must have 16 int16 entries with codebook[0] == 0")
        if not 0 <= self.weight_frac_bits <= MAX_WEIGHT_FRAC_BITS:
            raise bad(f"weight_frac_bits must be in 0..{MAX_WEIGHT_FRAC_BITS}")
        if not 0 <= self.act_frac_bits <= 15:
            raise bad("act_frac_bits must be in 0..15")
        if (self.bias_idx is None) != (self.bias_codebook is None):
            raise bad("bias_idx and bias_codebook must be given together")
        if self.bias_idx is not None:
            if self.bias_idx.shape != (self.n_out,):
                raise bad(f"bias_idx must have n_out = {self.n_out} entries")
            if self.bias_codebook.shape != (CODEBOOK_SIZE,) or self.bias_codebook[0] != 0:
                raise bad("bias_codebook must have 16 int16 entries with entry 0 == 0")
        if problems & ROWS_NOT_INCREASING:
            raise bad("row indices must be strictly increasing within each column")

    # ------------------------------------------------------------------ properties
    @property
    def kind(self) -> str:
        """Layer kind ("fc"; :data:`eie_sim.registry.LAYER_KINDS`)."""
        return "fc"

    @property
    def nnz(self) -> int:
        """Stored non-zero weights (bias excluded)."""
        return int(self.row_idx.size)

    @property
    def weight_density(self) -> float:
        """Fraction of non-zero weights, nnz / (n_in * n_out)."""
        return self.nnz / (self.n_in * self.n_out)

    @property
    def has_bias(self) -> bool:
        return self.bias_idx is not None

    def augmented_csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSC with the bias appended as column ``n_in`` (its indices refer to the bias codebook).

        Returns ``(col_ptr, row_idx, idx)`` with ``n_in + 1`` columns when the layer has a bias,
        otherwise the weight CSC unchanged. Computed once per layer.
        """
        return self._augmented

    @cached_property
    def _augmented(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.has_bias:
            return self.col_ptr, self.row_idx, self.weight_idx
        brows = np.flatnonzero(self.bias_idx).astype(np.int32)
        col_ptr = np.append(self.col_ptr, self.col_ptr[-1] + brows.size)
        return (
            col_ptr,
            np.concatenate([self.row_idx, brows]),
            np.concatenate([self.weight_idx, self.bias_idx[brows]]),
        )

    def bias_activation(self) -> int:
        """Raw activation broadcast with the bias column: 1.0 in the weight format."""
        return 1 << self.weight_frac_bits

    def bias_values(self) -> np.ndarray:
        """Bias per output as int16 in the activation format (zeros when there is no bias)."""
        if not self.has_bias:
            return np.zeros(self.n_out, dtype=np.int16)
        return self.bias_codebook[self.bias_idx]

    def weights_float(self) -> np.ndarray:
        """Dense float64 ``(n_out, n_in)`` matrix of the shared weights. For small layers only."""
        w = np.zeros((self.n_out, self.n_in))
        cols = np.repeat(np.arange(self.n_in), np.diff(self.col_ptr))
        w[self.row_idx, cols] = to_float(self.codebook[self.weight_idx], self.weight_frac_bits)
        return w

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_sparse(
        cls,
        name: str,
        n_in: int,
        n_out: int,
        col_ptr: np.ndarray,
        row_idx: np.ndarray,
        values: np.ndarray,
        bias: np.ndarray | None = None,
        *,
        act_frac_bits: int = ACT_FRAC_BITS,
        bias_codebook: str = "separate",
    ) -> QuantizedLayer:
        """Quantize a pruned float layer given in CSC form (values may contain no zeros).

        The weight format's fraction bits are the most that hold the largest weight; the
        non-zero weights are rounded to it and k-means-clustered to 15 shared values. A float
        ``bias`` of length ``n_out`` is quantized by ``bias_codebook``:

        * ``"separate"`` (default): rounded to the activation format and k-means-clustered to
          15 shared values of its own (rows whose bias rounds to zero store nothing);
        * ``"weights"``: each bias takes the nearest of the layer's 16 shared *weights* (zero
          included), as the EIE authors' flow does — the bias column then decodes through the
          weight codebook; its values in the activation format are the shared weights rounded
          (half up) to ``act_frac_bits``, exactly what the datapath computes for them.
        """
        values = np.asarray(values, dtype=np.float64)
        max_abs = 0.0
        if values.size:
            # max and min propagate NaN, and an infinity is the max or the min.
            hi, lo = float(values.max()), float(values.min())
            if not (np.isfinite(hi) and np.isfinite(lo)):
                raise WorkloadError(f"layer {name!r}: weights contain NaN or infinity")
            max_abs = max(hi, -lo)
        wfb = frac_bits_for(max_abs, max_frac_bits=MAX_WEIGHT_FRAC_BITS)
        wq = _quantize_blocks(values, wfb)
        # A weight that rounds to zero in the chosen format is pruned by quantization.
        if not wq.all():
            keep = wq != 0
            counts = np.bincount(np.repeat(np.arange(n_in), np.diff(col_ptr))[keep], minlength=n_in)
            col_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            row_idx = np.asarray(row_idx)[keep]
            wq = wq[keep]
        codebook, idx = kmeans_codebook(wq)
        if bias_codebook not in BIAS_CODEBOOKS:
            raise WorkloadError(f"bias_codebook must be one of {', '.join(BIAS_CODEBOOKS)}, "
                                f"got {bias_codebook!r}")
        bias_idx = bias_cb = None
        if bias is not None:
            bias = np.asarray(bias, dtype=np.float64)
            if bias.shape != (n_out,):
                raise WorkloadError(f"layer {name!r}: bias must have {n_out} entries")
            if not np.all(np.isfinite(bias)):
                raise WorkloadError(f"layer {name!r}: bias contains NaN or infinity")
            if bias_codebook == "weights":
                bias_cb, bias_idx = _bias_from_weight_codebook(bias, codebook, wfb,
                                                               act_frac_bits)
            else:
                bq = quantize(bias, act_frac_bits)
                nz = bq != 0
                bias_cb, bidx = kmeans_codebook(bq[nz])
                bias_idx = np.zeros(n_out, dtype=np.uint8)
                bias_idx[nz] = bidx
        return cls(
            name=name,
            n_in=n_in,
            n_out=n_out,
            col_ptr=np.asarray(col_ptr, dtype=np.int64),
            row_idx=np.asarray(row_idx, dtype=np.int32),
            weight_idx=idx,
            codebook=codebook,
            weight_frac_bits=wfb,
            bias_idx=bias_idx,
            bias_codebook=bias_cb,
            act_frac_bits=act_frac_bits,
        )

    @classmethod
    def from_dense(
        cls,
        name: str,
        weights: np.ndarray,
        bias: np.ndarray | None = None,
        *,
        act_frac_bits: int = ACT_FRAC_BITS,
        bias_codebook: str = "separate",
    ) -> QuantizedLayer:
        """Quantize an already pruned dense ``(n_out, n_in)`` float matrix (zeros = pruned);
        ``bias_codebook`` as in :meth:`from_sparse`.

        A float (up to 64-bit) or integer matrix is read in its own dtype, in any memory
        layout (a transposed view costs no copy); only its non-zeros are converted to float64,
        which gives the values a float64 copy of the whole matrix would. NaN and infinity are
        non-zeros, refused by :meth:`from_sparse`."""
        w = np.asarray(weights)
        if w.dtype.kind not in "fiu" or w.dtype.itemsize > 8:  # bools, long doubles, lists...
            w = w.astype(np.float64)
        if w.ndim != 2:
            raise WorkloadError(
                f"layer {name!r}: weights must be 2-D (outputs, inputs), got {w.shape}"
            )
        n_out, n_in = w.shape
        # Column-major walk (CSC): the non-zero mask transposed to C order (one byte per
        # weight), whose flat non-zero positions are ``col * n_out + row``.
        nonzero_t = np.ascontiguousarray((w != 0).T)
        counts = np.count_nonzero(nonzero_t, axis=1)
        cols = np.repeat(np.arange(n_in), counts)
        rows = np.flatnonzero(nonzero_t) - cols * n_out
        col_ptr = np.concatenate([[0], np.cumsum(counts)])
        # A C-ordered matrix (the usual one) is gathered by flat index: twice as fast.
        values = w.reshape(-1)[rows * n_in + cols] if w.flags.c_contiguous else w[rows, cols]
        return cls.from_sparse(
            name, n_in, n_out, col_ptr, rows, values, bias, act_frac_bits=act_frac_bits,
            bias_codebook=bias_codebook,
        )

    def with_bias_value(self, bias_raw: int) -> QuantizedLayer:
        """Copy of this layer with one bias value (activation-format int16) on every output."""
        codebook = np.zeros(CODEBOOK_SIZE, dtype=np.int16)
        codebook[1:] = bias_raw
        idx = np.full(self.n_out, 1 if bias_raw != 0 else 0, dtype=np.uint8)
        token = _entries_checked.set(True)  # this layer's entries, checked when it was made
        try:
            return dataclasses.replace(self, bias_idx=idx, bias_codebook=codebook)
        finally:
            _entries_checked.reset(token)
