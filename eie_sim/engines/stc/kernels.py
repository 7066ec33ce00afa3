"""The fp16 tensor-core GEMM at GEMM sizes: the documented accumulation order, compiled.

The rule (docs/STC_MODEL.md §Arithmetic, :mod:`eie_sim.engines.stc.reference`): every output
starts at ``+0.0`` in float32 and each product ``w * x`` (exact in float32: two 11-bit
significands) is added to it with one float32 rounding, in ascending K order. Skipping a zero
weight changes no bit (``acc + (+-0) == acc`` for finite activations, and the accumulator is
never ``-0``), so the kernels take the weights as compressed rows: ``data[p]`` multiplies
activation row ``indices[p]`` (ascending within a row; ``indices`` None: dense rows, entry ``p``
of row ``i`` is column ``p - indptr[i]``).

:func:`sequential_gemm` runs the rule with the compiled loop (:mod:`eie_sim._loops`; the switch of
the EIE loops, ``EIE_SIM_ACCELERATOR``, :mod:`eie_sim.accel`), else one slot at a time in numpy
(K passes over the output). The compiled loop is a blocked GEMM that keeps the rule: the output
is cut into column blocks and K into blocks, and for every output element the K blocks run in
ascending order and, inside a block, its entries in ascending K order, one ``acc = acc + w * x``
(float32) each; only the order *across different outputs* changes, which no output can see.
Tasks (a block of rows of one column block) are split between threads like the EIE loops.
A float32 fused multiply-add gives the same bits as the multiply and the add, since the
product is exact. ``tests/test_stc_kernels.py`` compares both paths with a scalar
implementation of the rule.
"""

from __future__ import annotations

import numpy as np

from eie_sim import accel
from eie_sim.formats.nm_sparse import nonzero_mask

#: Output columns per block of the compiled loop (a row's block stays in L1).
COL_BLOCK = 256
#: K per block of the compiled loop (a block of activations, K_BLOCK x COL_BLOCK float32,
#: stays in L2).
K_BLOCK = 256
#: Rows per task (tasks are split between threads).
ROW_BLOCK = 64
#: Products of the GEMM per entry of work in :mod:`eie_sim.accel`'s thread rule (an EIE entry
#: costs about as much as 64 vectorized multiply-adds).
PRODUCTS_PER_ENTRY = 64


def csr_of_dense(w: np.ndarray, columns: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data)`` of the non-zeros of ``w`` (rows in order, entries in row
    order; ``indices`` int32, ``data`` float32). ``columns`` (shape of ``w``, ascending along
    each row) is the column of every entry; default its position (the dense matrix)."""
    w = np.ascontiguousarray(w)
    rows, width = w.shape
    flat = np.flatnonzero(nonzero_mask(w))  # row-major: row i's lie in [i * width, (i+1) * width)
    indptr = np.searchsorted(flat, np.arange(rows + 1, dtype=np.int64) * width).astype(np.int64)
    if columns is None:
        indices = flat % max(width, 1)
    else:
        indices = np.ascontiguousarray(columns).reshape(-1)[flat]
    return indptr, indices.astype(np.int32), w.reshape(-1)[flat].astype(np.float32)


def sequential_gemm(indptr: np.ndarray, indices: np.ndarray | None, data: np.ndarray,
                    x: np.ndarray) -> np.ndarray:
    """``Y = W . X`` by the fp16 rule, W as compressed rows (module docstring).

    Parameters
    ----------
    indptr : numpy.ndarray of int64, shape (rows + 1,)
    indices : numpy.ndarray of int, shape (nnz,), or None
        Activation row of each entry, ascending within a row; None: dense rows.
    data : numpy.ndarray of float16 or float32, shape (nnz,)
        Weights (fp16 values).
    x : numpy.ndarray of float16 or float32, shape (K, Nb)
        Activations (fp16 values, finite).

    Returns
    -------
    numpy.ndarray of float32, shape (rows, Nb)
    """
    rows = indptr.size - 1
    k, n = x.shape
    data = np.ascontiguousarray(data, dtype=np.float32)
    if rows == 0 or n == 0:
        return np.zeros((rows, n), dtype=np.float32)
    loops = accel.kernels()
    if loops is None:
        return _numpy_gemm(indptr, indices, data, x.astype(np.float32))
    jb = min(COL_BLOCK, -(-n // 8) * 8)
    nb = -(-n // jb)
    xb = np.zeros((nb, k, jb), dtype=np.float32)
    for b in range(nb):
        cols = x[:, b * jb : (b + 1) * jb]
        xb[b, :, : cols.shape[1]] = cols
    outb = np.zeros((nb, rows, jb), dtype=np.float32)
    dense = indices is None
    idx = np.zeros(1, dtype=np.int32) if dense else np.ascontiguousarray(indices, np.int32)
    args = (np.ascontiguousarray(indptr, np.int64), idx, dense, data, xb, outb, K_BLOCK,
            ROW_BLOCK)
    tasks = nb * -(-rows // ROW_BLOCK)
    accel.in_parts(lambda t_lo, t_hi: loops.blocked_gemm(*args, t_lo, t_hi), tasks,
                   data.size * n // PRODUCTS_PER_ENTRY)
    return np.ascontiguousarray(outb.transpose(1, 0, 2).reshape(rows, nb * jb)[:, :n])


def _numpy_gemm(indptr, indices, data, x) -> np.ndarray:
    """The rule one stored slot at a time: slot ``s`` of every row (``acc += w * x``, one
    float32 rounding per product). Rows of different lengths are padded with zeros at the
    end (a zero adds nothing)."""
    rows = indptr.size - 1
    lengths = np.diff(indptr)
    width = int(lengths.max(initial=0))
    pos = np.arange(width, dtype=np.int64)
    valid = pos[None, :] < lengths[:, None]
    flat = np.minimum(indptr[:-1, None] + pos[None, :], max(data.size - 1, 0))
    vals = np.where(valid, data[flat] if data.size else 0, 0).astype(np.float32)
    if indices is None:
        cols = np.broadcast_to(np.minimum(pos, x.shape[0] - 1), (rows, width))
    else:
        cols = np.where(valid, indices[flat] if data.size else 0, 0)
    acc = np.zeros((rows, x.shape[1]), dtype=np.float32)
    for s in range(width):
        acc += vals[:, s, None] * x[cols[:, s]]
    return acc

