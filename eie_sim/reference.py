"""Functional golden model of one EIE layer: plain numpy, the datapath's fixed-point rules.

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
    acc = np.zeros(layer.n_out, dtype=np.int64)
    wvals = layer.codebook.astype(np.int64)[layer.weight_idx]
    f = layer.weight_frac_bits
    for j in np.flatnonzero(broadcast_mask(x, input_relu)):
        s, e = layer.col_ptr[j], layer.col_ptr[j + 1]
        if s == e:
            continue
        rows = layer.row_idx[s:e]
        acc[rows] = np.clip(acc[rows] + round_shift(wvals[s:e] * x[j], f), INT16_MIN, INT16_MAX)
    if include_bias and layer.has_bias:
        rows = np.flatnonzero(layer.bias_idx)
        b = layer.bias_codebook.astype(np.int64)[layer.bias_idx[rows]]
        prod = round_shift(b * layer.bias_activation(), f)
        acc[rows] = np.clip(acc[rows] + prod, INT16_MIN, INT16_MAX)
    return acc.astype(np.int16)
