"""k-means weight sharing (Deep Compression / EIE): 4-bit indices into a shared codebook.

EIE stores each weight as a 4-bit index into a per-layer table of 16 shared 16-bit weights,
decoded by the weight decoder. Index 0 is reserved for zero: it is the code of the padding
entries of the interleaved CSC format, so the 15 other entries are k-means centroids of the
non-zero weights.

k-means runs in the fixed-point domain: the non-zero weights, already rounded to int16,
are counted per distinct value (histogrammed over the 2**16 possible values, or sorted when
there are few) and Lloyd's algorithm runs on the weighted histogram. That is exact k-means
over the representable values, costs O(distinct values) per iteration whatever the layer
size, and is deterministic. Centroids start linearly spaced between the smallest and largest
weight (the initialisation Deep Compression found best).
"""

from __future__ import annotations

import numpy as np

#: Fewer values than this are sorted to find the distinct ones (O(n log n)) instead of
#: histogrammed over the 2**16 int16 values, a fixed ~1 ms a small layer would pay.
_SORT_BELOW = 1 << 14


def kmeans_codebook(
    values: np.ndarray, n_clusters: int = 15, *, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster int16 weights into at most ``n_clusters`` shared values.

    Parameters
    ----------
    values : numpy.ndarray of int16
        Non-zero fixed-point weights (any shape; flattened).
    n_clusters : int
        Number of centroids (15 for a 16-entry codebook whose entry 0 is zero).
    max_iter : int
        Lloyd iterations at most; stops earlier when assignments no longer change.

    Returns
    -------
    codebook : numpy.ndarray of int16, shape (n_clusters + 1,)
        ``codebook[0] == 0``; entries 1.. hold the sorted centroids (unused entries repeat
        the last centroid, so every index decodes to a value that occurs).
    indices : numpy.ndarray of uint8
        Codebook index (1..n_clusters) of each input value.
    """
    bits = _int16_bits(values)
    codebook = np.zeros(n_clusters + 1, dtype=np.int16)
    if bits.size == 0:
        return codebook, np.zeros(0, dtype=np.uint8)
    offset = 1 << 15
    if bits.size < _SORT_BELOW:
        x, weights = np.unique(bits.view(np.int16).astype(np.int64), return_counts=True)
    else:
        # Histogram over the 2**16 bit patterns, then rotated to value order: value + 2**15.
        hist = np.roll(_histogram(bits), offset)
        points = np.flatnonzero(hist)
        weights = hist[points]
        x = points - offset
    # x: the distinct values, sorted; weights: how often each occurs
    if x.size <= n_clusters:
        # Already shared: every distinct value is its own centroid (k-means' exact optimum).
        cq = x
    else:
        cq = _lloyd(x, weights, n_clusters, max_iter)
    codebook[1 : 1 + cq.size] = cq
    codebook[1 + cq.size :] = cq[-1]
    # A value's index: its nearest centroid, the lower one on a tie.
    mids = (cq[1:] + cq[:-1]) / 2
    if bits.size < _SORT_BELOW:
        return codebook, (np.searchsorted(mids, bits.view(np.int16)) + 1).astype(np.uint8)
    lut = np.zeros(1 << 16, dtype=np.uint8)
    lut[points] = (np.searchsorted(mids, x, side="left") + 1).astype(np.uint8)
    lut = np.roll(lut, -offset)  # back to bit-pattern order
    return codebook, _lookup(lut, bits)


#: Values histogrammed and looked up at once by the numpy code of :func:`kmeans_codebook`.
_BLOCK = 1 << 18


def _histogram(bits: np.ndarray) -> np.ndarray:
    """Count of each of the 2**16 bit patterns in ``bits`` (uint16): the compiled loop on up
    to one thread per core (:mod:`eie_sim.accel`, a histogram per thread, then summed), else
    numpy a block at a time (no 8-byte-per-value index arrays)."""
    from eie_sim import accel

    loops = accel.kernels()
    if loops is None:
        hist = np.zeros(1 << 16, dtype=np.int64)
        for s in range(0, bits.size, _BLOCK):
            hist += np.bincount(bits[s : s + _BLOCK], minlength=1 << 16)
        return hist
    parts: list[np.ndarray] = []

    def count(lo: int, hi: int) -> None:
        part = np.zeros(1 << 16, dtype=np.int64)
        loops.histogram16(bits, part, lo, hi)
        parts.append(part)

    accel.in_parts(count, bits.size, bits.size)
    return parts[0] if len(parts) == 1 else np.sum(parts, axis=0)


def _lookup(lut: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """``lut[bits]`` (uint8 of 2**16 entries, indexed by uint16): compiled (threaded) or numpy
    a block at a time."""
    from eie_sim import accel

    indices = np.empty(bits.size, dtype=np.uint8)
    loops = accel.kernels()
    if loops is None:
        for s in range(0, bits.size, _BLOCK):
            np.take(lut, bits[s : s + _BLOCK], out=indices[s : s + _BLOCK])
    else:
        accel.in_parts(lambda lo, hi: loops.lookup16(lut, bits, indices, lo, hi), bits.size,
                       bits.size)
    return indices


def _int16_bits(values: np.ndarray) -> np.ndarray:
    """The values' int16 bit patterns as a flat uint16 array (a view of int16 input); other
    integer input must lie in the int16 range (ValueError otherwise)."""
    v = np.ascontiguousarray(np.asarray(values).ravel())
    if v.dtype != np.int16:
        v = v.astype(np.int64)
        if v.size and (v.min() < -(1 << 15) or v.max() >= 1 << 15):
            raise ValueError("k-means weight sharing takes int16 values")
        v = v.astype(np.int16)
    return v.view(np.uint16)


def _lloyd(x: np.ndarray, weights: np.ndarray, k: int, max_iter: int) -> np.ndarray:
    """Lloyd's algorithm on the weighted histogram (``x`` sorted, distinct, int64): the sorted,
    distinct centroids rounded to the int16 grid.

    In one dimension a cluster is a run of consecutive points, so an iteration needs only the
    run boundaries (``searchsorted`` of the ``k - 1`` midpoints) and the runs' sums from integer
    prefix sums, exact like the per-point sums they replace.
    """
    xf = x.astype(np.float64)
    csum_w = np.zeros(x.size + 1, dtype=np.int64)
    np.cumsum(weights, out=csum_w[1:])
    csum_wx = np.zeros(x.size + 1, dtype=np.int64)
    np.cumsum(weights * x, out=csum_wx[1:])
    centroids = np.linspace(xf[0], xf[-1], k)
    # Cluster c is the run x[bounds[c]:bounds[c + 1]]; two buffers, the last and the new runs.
    bounds = np.zeros(k + 1, dtype=np.int64)
    bounds[-1] = x.size
    new_bounds = bounds.copy()
    for iteration in range(max_iter):
        mids = (centroids[1:] + centroids[:-1]) / 2
        # Point i is in cluster c = #(mids < x_i): runs end where x first exceeds a midpoint.
        new_bounds[1:-1] = np.searchsorted(xf, mids, side="right")
        if iteration and (new_bounds == bounds).all():
            break
        bounds, new_bounds = new_bounds, bounds
        counts = csum_w[bounds[1:]] - csum_w[bounds[:-1]]
        sums = csum_wx[bounds[1:]] - csum_wx[bounds[:-1]]
        filled = counts > 0
        if filled.all():
            centroids = sums / counts
        else:
            centroids = np.where(filled, sums / np.where(filled, counts, 1), centroids)
            # An empty cluster (e.g. a linear-init centroid in the pruned gap around zero)
            # moves to the point with the largest weighted squared error.
            assign = np.repeat(np.arange(k), np.diff(bounds))
            err = weights * (xf - centroids[assign]) ** 2
            for c in np.flatnonzero(~filled):
                worst = int(np.argmax(err))
                centroids[c] = xf[worst]
                err[worst] = 0.0
        centroids.sort()
    # Final centroids rounded to the int16 grid (sorted, duplicates merged).
    cq = np.floor(centroids + 0.5).astype(np.int64)
    return cq[np.r_[True, cq[1:] != cq[:-1]]]
