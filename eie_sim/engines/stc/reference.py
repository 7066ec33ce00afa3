"""Functional golden model of the tensor-core GEMM: plain numpy, the datapath's number rules.

It reads the *dense* weight matrix (the N:M format decompressed), so a metadata or selection
bug in an engine shows up as a mismatch. Rules (docs/STC_MODEL.md §Arithmetic):

* **fp16**: operands are IEEE binary16 (``numpy.float16``); each product is formed in float32,
  where it is exact (11-bit x 11-bit significands); the accumulator is float32, zero-initialised,
  and every product is added to it with one float32 rounding (round to nearest even) in
  **ascending K order**. A pruned weight contributes ``+-0`` and leaves the accumulator
  unchanged, so skipping it (as ``mma.sp`` does) gives the same bits.
* **int8**: products and accumulation in int32, wrapping modulo 2**32 like the hardware
  (order-independent).

Activations must be finite (``0 * inf`` would make skipping a zero weight observable).
"""

from __future__ import annotations

import numpy as np


def wrap_int32(acc: np.ndarray) -> np.ndarray:
    """int64 sums wrapped modulo 2**32 to int32, like the hardware's accumulator."""
    return ((acc + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def add_bias(acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The epilogue: ``acc + bias`` per row, one float32 rounding (fp16) or a wrapping int32
    add (int8); ``acc`` unchanged without a bias."""
    if bias is None:
        return acc
    if acc.dtype == np.int32:
        return wrap_int32(acc.astype(np.int64) + bias.astype(np.int64)[:, None])
    return acc + bias.astype(np.float32)[:, None]


def reference_gemm(w: np.ndarray, x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``Y = W . X (+ bias)`` by the datapath's rules (the bias is added last, per row).

    Parameters
    ----------
    w : numpy.ndarray of float16 or int8, shape (M, K)
        Dense weights (zeros where pruned).
    x : numpy.ndarray of float16 or int8, shape (K, Nb)
        Activations.

    Returns
    -------
    numpy.ndarray, shape (M, Nb)
        float32 (fp16 operands) or int32 (int8 operands).
    """
    if w.dtype != x.dtype or w.dtype not in (np.float16, np.int8):
        raise ValueError(f"operands must both be float16 or int8, got {w.dtype} and {x.dtype}")
    if w.shape[1] != x.shape[0]:
        raise ValueError(f"W is {w.shape}, X is {x.shape}: K differs")
    if w.dtype == np.int8:
        return add_bias(wrap_int32(w.astype(np.int64) @ x.astype(np.int64)), bias)
    wf = w.astype(np.float32)
    xf = x.astype(np.float32)
    acc = np.zeros((w.shape[0], x.shape[1]), dtype=np.float32)
    for k in range(w.shape[1]):
        acc += wf[:, k : k + 1] * xf[k : k + 1, :]
    return add_bias(acc, bias)


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """True if ``a`` and ``b`` have the same shape, dtype and bit pattern."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
