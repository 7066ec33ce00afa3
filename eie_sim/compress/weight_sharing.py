"""k-means weight sharing (Deep Compression / EIE): 4-bit indices into a shared codebook.

EIE stores each weight as a 4-bit index into a per-layer table of 16 shared 16-bit weights,
decoded by the weight decoder. Index 0 is reserved for zero: it is the code of the padding
entries of the interleaved CSC format, so the 15 other entries are k-means centroids of the
non-zero weights.

k-means runs in the fixed-point domain: the non-zero weights, already rounded to int16,
are histogrammed over the 2**16 possible values and Lloyd's algorithm runs on the weighted
histogram. That is exact k-means over the representable values, costs O(distinct values)
per iteration whatever the layer size, and is deterministic. Centroids start linearly spaced
between the smallest and largest weight (the initialisation Deep Compression found best).
"""

from __future__ import annotations

import numpy as np


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
    v = np.asarray(values).astype(np.int64).ravel()
    codebook = np.zeros(n_clusters + 1, dtype=np.int16)
    if v.size == 0:
        return codebook, np.zeros(0, dtype=np.uint8)
    offset = 1 << 15
    hist = np.bincount(v + offset, minlength=1 << 16)
    points = np.flatnonzero(hist)
    weights = hist[points].astype(np.float64)
    x = (points - offset).astype(np.float64)
    k = min(n_clusters, x.size)
    centroids = np.linspace(x[0], x[-1], k) if k > 1 else np.array([x[0]])
    assign = None
    for _ in range(max_iter):
        mids = (centroids[1:] + centroids[:-1]) / 2
        new_assign = np.searchsorted(mids, x, side="left")
        if assign is not None and np.array_equal(new_assign, assign):
            break
        assign = new_assign
        sums = np.bincount(assign, weights=weights * x, minlength=k)
        counts = np.bincount(assign, weights=weights, minlength=k)
        filled = counts > 0
        centroids = np.where(filled, sums / np.where(filled, counts, 1), centroids)
        if not filled.all():
            # An empty cluster (e.g. a linear-init centroid in the pruned gap around zero)
            # moves to the point with the largest weighted squared error.
            err = weights * (x - centroids[assign]) ** 2
            for c in np.flatnonzero(~filled):
                worst = int(np.argmax(err))
                centroids[c] = x[worst]
                err[worst] = 0.0
        centroids = np.sort(centroids)
    # Final centroids rounded to the int16 grid, then a last nearest-centroid assignment.
    cq = np.unique(np.floor(centroids + 0.5).astype(np.int64))
    mids = (cq[1:] + cq[:-1]) / 2
    point_idx = np.searchsorted(mids, x, side="left")
    lut = np.zeros(1 << 16, dtype=np.uint8)
    lut[points] = (point_idx + 1).astype(np.uint8)
    codebook[1 : 1 + cq.size] = cq
    codebook[1 + cq.size :] = cq[-1]
    return codebook, lut[v + offset]
