"""Weight pruning: unstructured magnitude pruning, load-balance-aware pruning (ESE) and N:M
structured pruning.

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


#: Pruning methods by name: the ``prune=`` choices of the Python API, the workloads and the CLI.
PRUNE_METHODS = ("magnitude", "load-balance", "n:m")


def load_balance_prune(weights: np.ndarray, density: float, num_pes: int) -> np.ndarray:
    """Load-balance-aware pruning (Han et al., ESE, FPGA 2017): every PE's sub-matrix is pruned
    by magnitude to the same density; return the keep-mask.

    PE ``k`` of ``num_pes`` owns the rows ``i`` with ``i mod num_pes == k`` (the row
    interleaving of EIE and ESE). The layer keeps ``round(density * size)`` weights, the same
    total as :func:`magnitude_prune`; they are shared among the PEs in proportion to their
    sub-matrix sizes (largest remainder, ties to the lower PE), so every PE keeps within one
    weight of ``density`` times its sub-matrix size. With ``num_pes`` dividing the rows the
    sub-matrices have equal sizes and their non-zero counts differ by at most one. Inside a
    sub-matrix the largest magnitudes survive, ties broken by flat index (earlier wins).

    Parameters
    ----------
    weights : numpy.ndarray, shape (outputs, inputs)
        Dense weights.
    density : float
        Fraction of weights kept, in [0, 1].
    num_pes : int
        PEs the rows are interleaved over (>= 1).

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``weights``; True where a weight survives.
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    if w.ndim != 2:
        raise ValueError(f"load-balance pruning needs a 2-D (outputs, inputs) matrix, got "
                         f"{w.shape}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    if isinstance(num_pes, bool) or not isinstance(num_pes, (int, np.integer)) or num_pes < 1:
        raise ValueError(f"num_pes must be an integer >= 1, got {num_pes!r}")
    rows, cols = w.shape
    sizes = np.array([len(range(k, rows, num_pes)) * cols for k in range(num_pes)])
    total = int(round(density * w.size))
    share = sizes * (total / w.size) if w.size else np.zeros(num_pes)
    keep = np.floor(share).astype(np.int64)
    left = total - int(keep.sum())
    if left > 0:
        order = np.argsort(-(share - keep), kind="stable")
        keep[order[:left]] += 1
    mask = np.zeros(w.shape, dtype=bool)
    for k in range(min(num_pes, rows)):
        sub = w[k::num_pes].ravel()
        kept = np.zeros(sub.size, dtype=bool)
        if keep[k] > 0:
            kept[np.argsort(-sub, kind="stable")[: keep[k]]] = True
        mask[k::num_pes] = kept.reshape(-1, cols)
    return mask


def pe_nonzeros(mask: np.ndarray, num_pes: int) -> np.ndarray:
    """Non-zeros of each PE's sub-matrix (rows ``i mod num_pes == k``) of a 2-D keep-mask or
    pruned matrix, shape ``(num_pes,)``."""
    per_row = np.count_nonzero(np.asarray(mask), axis=1)
    return np.bincount(np.arange(per_row.size) % num_pes, weights=per_row,
                       minlength=num_pes).astype(np.int64)


def prune(weights: np.ndarray, method: str, density: float | None = None, *,
          num_pes: int | None = None, pattern: str | None = None) -> np.ndarray:
    """Prune ``weights`` (outputs, inputs) by a named method; return the keep-mask.

    Parameters
    ----------
    method : {"magnitude", "load-balance", "n:m"}
        ``magnitude``: the largest magnitudes of the whole matrix (:func:`magnitude_prune`);
        ``load-balance``: the same density in every PE's sub-matrix
        (:func:`load_balance_prune`, needs ``num_pes``); ``n:m``: N of every M consecutive
        inputs (:func:`nm_prune`, needs ``pattern`` such as ``"2:4"``; ``density`` is unused).
    density : float, optional
        Fraction kept (magnitude and load-balance).
    num_pes : int, optional
        PEs the rows are interleaved over (load-balance).
    pattern : str, optional
        ``"N:M"`` (n:m).
    """
    if method == "magnitude":
        if density is None:
            raise ValueError("magnitude pruning needs a density")
        return magnitude_prune(weights, density)
    if method == "load-balance":
        if density is None or num_pes is None:
            raise ValueError("load-balance pruning needs a density and num_pes")
        return load_balance_prune(weights, density, num_pes)
    if method == "n:m":
        parts = str(pattern).split(":") if pattern is not None else []
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"n:m pruning needs a pattern 'N:M' such as '2:4', got {pattern!r}")
        return nm_prune(weights, int(parts[0]), int(parts[1]))
    raise ValueError(f"unknown pruning method {method!r}; allowed: {', '.join(PRUNE_METHODS)}")
