"""Weight pruning: unstructured magnitude pruning and N:M structured pruning.

Weights are ``(outputs, inputs)`` matrices (row i = output neuron, column j = input), as in
the EIE paper's ``b = W a``.
"""

from __future__ import annotations

import numpy as np


def magnitude_prune(weights: np.ndarray, density: float) -> np.ndarray:
    """Keep the ``round(density * size)`` largest-magnitude weights; return the keep-mask.

    Parameters
    ----------
    weights : numpy.ndarray
        Dense weights of any shape.
    density : float
        Fraction of weights kept, in [0, 1].

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``weights``; True where a weight survives. Ties at the threshold are
        broken by flat index (earlier wins) so the kept count is exact.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    flat = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    keep = int(round(density * flat.size))
    mask = np.zeros(flat.size, dtype=bool)
    if keep > 0:
        order = np.argsort(-flat, kind="stable")
        mask[order[:keep]] = True
    return mask.reshape(np.shape(weights))


def nm_prune(weights: np.ndarray, n: int, m: int) -> np.ndarray:
    """N:M pruning along the input (last) axis: keep the ``n`` largest of every ``m`` weights.

    Returns the keep-mask. The last axis must be a multiple of ``m``. Ties keep the earlier
    element of the group.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not (1 <= n <= m):
        raise ValueError(f"N:M pattern needs 1 <= N <= M, got {n}:{m}")
    if w.shape[-1] % m:
        raise ValueError(f"the input dimension {w.shape[-1]} is not a multiple of M={m}")
    groups = np.abs(w).reshape(*w.shape[:-1], w.shape[-1] // m, m)
    order = np.argsort(-groups, axis=-1, kind="stable")
    mask = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(mask, order[..., :n], True, axis=-1)
    return mask.reshape(w.shape)


def satisfies_nm(weights: np.ndarray, n: int, m: int) -> bool:
    """True if every group of ``m`` consecutive inputs holds at most ``n`` non-zeros."""
    w = np.asarray(weights)
    if w.shape[-1] % m:
        return False
    groups = w.reshape(*w.shape[:-1], w.shape[-1] // m, m)
    return bool(np.all(np.count_nonzero(groups, axis=-1) <= n))
