"""Functional golden model of one EIE layer: the datapath's fixed-point rules, in plain numpy
(or entry by entry in compiled code when :mod:`eie_sim.accel` runs it).

It reads the layer's plain CSC (not the interleaved per-PE encoding the engines consume), so
an encoding bug shows up as a mismatch. For each broadcast input ``j`` in increasing order
(only ``a_j > 0`` with ``input_relu``, else every ``a_j != 0``), then the bias column with the
activation ``2**weight_frac_bits``::

    acc[i] = sat16(acc[i] + round_shift(codebook[idx_ij] * a_j, weight_frac_bits))

The result is the layer's pre-activation output (int16, activation format). ReLU is applied by
the consumer: the next layer broadcasts only positive activations.
"""

from __future__ import annotations

import numpy as np

from eie_sim import accel
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN, round_shift
from eie_sim.layer import QuantizedLayer


def broadcast_mask(x: np.ndarray, input_relu: bool) -> np.ndarray:
    """Inputs the central control unit broadcasts: ``x > 0`` (input ReLU) or ``x != 0``."""
    return x > 0 if input_relu else x != 0


def reference_forward(
    layer: QuantizedLayer, x: np.ndarray, *, input_relu: bool = True, include_bias: bool = True
) -> np.ndarray:
    """Output activations (int16) of ``layer`` on int16 input activations ``x``."""
    x = np.asarray(x, dtype=np.int64)
    if x.shape != (layer.n_in,):
        raise ValueError(
            f"input has {x.shape} activations, layer {layer.name!r} takes {layer.n_in}"
        )
    cols = np.flatnonzero(broadcast_mask(x, input_relu))
    lengths = layer.col_ptr[cols + 1] - layer.col_ptr[cols]
    acc = np.zeros(layer.n_out, dtype=np.int64)
    if not _add_compiled(acc, layer, x, cols, int(lengths.sum())):
        # Broadcast columns in order, a chunk of about _CHUNK_TERMS entries at a time (bounded
        # memory whatever the layer).
        ends = np.cumsum(lengths)
        lo = 0
        while lo < cols.size:
            hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - lengths[lo] + _CHUNK_TERMS,
                                                 side="right")))
            _add_columns(acc, layer, x, cols[lo:hi], lengths[lo:hi])
            lo = hi
    if include_bias and layer.has_bias:
        brows = np.flatnonzero(layer.bias_idx)
        b = layer.bias_codebook.astype(np.int64)[layer.bias_idx[brows]]
        prod = round_shift(b * layer.bias_activation(), layer.weight_frac_bits)
        acc[brows] = np.clip(acc[brows] + prod, INT16_MIN, INT16_MAX)
    return acc.astype(np.int16)


def _add_compiled(acc: np.ndarray, layer: QuantizedLayer, x: np.ndarray, cols: np.ndarray,
                  terms: int) -> bool:
    """Add the columns entry by entry with the compiled loop when :mod:`eie_sim.accel` runs
    compiled code (``tests/test_reference.py`` proves both paths equal); False: the numpy code
    must run."""
    if accel.kernels() is None:
        return False
    accel.reference_columns(layer, cols, x, acc, terms)
    return True


#: Entries gathered at once (memory: ~20 bytes each).
_CHUNK_TERMS = 1 << 22


def _add_columns(acc: np.ndarray, layer: QuantizedLayer, x: np.ndarray, cols: np.ndarray,
                 lengths: np.ndarray) -> None:
    """Add broadcast columns ``cols`` (in order) into the saturating accumulators ``acc``."""
    bounds = np.zeros(cols.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    take = np.repeat(layer.col_ptr[cols] - bounds[:-1], lengths)
    take += np.arange(bounds[-1])
    rows = layer.row_idx[take]
    # int16 x int16 products and their rounding fit in int32 (half the memory traffic).
    products = layer.codebook.astype(np.int32)[layer.weight_idx[take]]
    products *= np.repeat(x[cols].astype(np.int32), lengths)
    _accumulate_columns(acc, rows, round_shift(products, layer.weight_frac_bits), bounds)


#: Below this many terms a block of columns is added column by column.
_SMALL_BLOCK = 4096


def _accumulate_columns(acc: np.ndarray, rows: np.ndarray, terms: np.ndarray,
                        bounds: np.ndarray) -> None:
    """Add columns ``c = 0, 1, ...`` (terms ``bounds[c]:bounds[c+1]``) into ``acc``, each with
    one 16-bit saturation per accumulator.

    A block of consecutive columns is added at once when no accumulator it touches can reach
    the int16 limits inside it: every partial sum of a row lies between the accumulator plus
    the block's negative terms and the accumulator plus its positive terms, so when both stay
    in range no saturation happens and the block's plain sum is exact. Otherwise the block is
    halved (a small block goes column by column with the saturating rule itself).
    """
    stack = [(0, bounds.size - 1)]
    while stack:
        lo, hi = stack.pop()
        s, e = bounds[lo], bounds[hi]
        if s == e:
            continue
        r, t = rows[s:e], terms[s:e]
        if hi - lo > 1 and e - s > _SMALL_BLOCK:
            # Positive and negative terms of each row in one bincount (float64: exact here).
            both = np.bincount(2 * r + (t < 0), weights=t, minlength=2 * acc.size)
            pos, neg = both[0::2].astype(np.int64), both[1::2].astype(np.int64)
            if (acc + pos).max() <= INT16_MAX and (acc + neg).min() >= INT16_MIN:
                acc += pos
                acc += neg
                continue
            mid = (lo + hi) // 2
            stack += [(mid, hi), (lo, mid)]  # the earlier half is popped first
            continue
        for c in range(lo, hi):
            cs, ce = bounds[c] - s, bounds[c + 1] - s
            rc = r[cs:ce]
            acc[rc] = np.clip(acc[rc] + t[cs:ce], INT16_MIN, INT16_MAX)
