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

At GEMM sizes the fp16 rule runs in the compiled blocked loop of
:mod:`eie_sim.engines.stc.kernels` on the non-zeros of the dense weights (the fast engine uses
the same loop on the *stored* slots, gathered by the metadata, so a metadata or layout bug still
shows); :func:`reference_gemm_numpy` is the rule written plainly, one K at a time over the whole
output, which the tests compare with it.
"""

from __future__ import annotations

import numpy as np

from eie_sim.engines.stc.kernels import csr_of_dense, sequential_gemm

#: int8 sums in float64 are exact while ``K * 2**14 <= 2**53`` (every partial sum an integer).
_INT8_MAX_K = 1 << 39


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


def int8_gemm(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``W . X`` of int8 operands in int32, wrapping: a float64 matrix product, exact because
    every product is an integer of magnitude at most ``2**14`` and every partial sum one of at
    most ``K * 2**14 < 2**53`` (so no float64 operation rounds, in any order), then wrapped."""
    if w.shape[1] >= _INT8_MAX_K:  # pragma: no cover - beyond any memory
        raise ValueError(f"K = {w.shape[1]} is too large for exact float64 int8 sums")
    acc = w.astype(np.float64) @ x.astype(np.float64)
    return wrap_int32(acc.astype(np.int64))


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
    _check(w, x)
    if w.dtype == np.int8:
        return add_bias(int8_gemm(w, x), bias)
    return add_bias(sequential_gemm(*csr_of_dense(w), x), bias)


def reference_gemm_numpy(w: np.ndarray, x: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    """:func:`reference_gemm` written plainly: one K at a time over the whole output
    (``acc += w[:, k] * x[k]``: one float32 rounding per product, ascending K), int8 summed in
    int64 and wrapped. K passes over the output: for small GEMMs and the tests."""
    _check(w, x)
    if w.dtype == np.int8:
        return add_bias(wrap_int32(w.astype(np.int64) @ x.astype(np.int64)), bias)
    wf = w.astype(np.float32)
    xf = x.astype(np.float32)
    acc = np.zeros((w.shape[0], x.shape[1]), dtype=np.float32)
    for k in range(w.shape[1]):
        acc += wf[:, k : k + 1] * xf[k : k + 1, :]
    return add_bias(acc, bias)


def _check(w: np.ndarray, x: np.ndarray) -> None:
    if w.dtype != x.dtype or w.dtype not in (np.float16, np.int8):
        raise ValueError(f"operands must both be float16 or int8, got {w.dtype} and {x.dtype}")
    if w.shape[1] != x.shape[0]:
        raise ValueError(f"W is {w.shape}, X is {x.shape}: K differs")


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """True if ``a`` and ``b`` have the same shape, dtype and bit pattern."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
