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
    return largest_first(flat, int(round(density * flat.size))).reshape(np.shape(weights))


def largest_first(mag: np.ndarray, count: int) -> np.ndarray:
    """Keep-mask of the first ``count`` elements of a stable sort of ``-mag`` (1-D float64):
    the largest values, ties to the earlier index, NaN after every number (NaNs by index).

    A selection (``np.partition``, linear time) and one pass over the ties instead of a sort.
    """
    kept = np.zeros(mag.size, dtype=bool)
    if count <= 0:
        return kept
    if count >= mag.size:
        kept[:] = True
        return kept
    neg = np.negative(mag)
    threshold = np.partition(neg, count - 1)[count - 1]
    if np.isnan(threshold):  # fewer numbers than ``count``: all of them, then NaNs by index
        np.logical_not(np.isnan(neg), out=kept)
        ties = np.flatnonzero(~kept)
    else:
        np.less(neg, threshold, out=kept)
        ties = np.flatnonzero(neg == threshold)
    kept[ties[: count - int(np.count_nonzero(kept))]] = True
    return kept


#: Groups of M weights handled together by :func:`nm_prune` (its temporaries stay in cache).
NM_BLOCK_GROUPS = 1 << 16
#: Largest M ranked by pairwise comparisons (M (M - 1) / 2 of them per group); beyond it, a
#: stable sort per group.
NM_PAIRWISE_MAX_M = 16


def nm_prune(weights: np.ndarray, n: int, m: int) -> np.ndarray:
    """N:M pruning along the input (last) axis: keep the ``n`` largest of every ``m`` weights.

    Returns the keep-mask. The last axis must be a multiple of ``m``. Magnitudes are compared
    as float64 (exactly: float16 and float32 inputs in their own precision, which orders them
    the same). Ties keep the earlier element of the group; NaN ranks below every number (NaNs
    among themselves by position): the order of a stable sort of ``-|w|``.
    """
    w = np.asarray(weights)
    if not (1 <= n <= m):
        raise ValueError(f"N:M pattern needs 1 <= N <= M, got {n}:{m}")
    if w.shape[-1] % m:
        raise ValueError(f"the input dimension {w.shape[-1]} is not a multiple of M={m}")
    groups = w.reshape(-1, m)
    keep = np.empty(groups.shape, dtype=bool)
    for start in range(0, groups.shape[0], NM_BLOCK_GROUPS):
        block = groups[start : start + NM_BLOCK_GROUPS]
        block_keep, _ = nm_keep_block(block, n)
        for p in range(m):
            keep[start : start + block.shape[0], p] = block_keep[p]
    return keep.reshape(w.shape)


def nm_keep_block(groups: np.ndarray, n: int) -> tuple[np.ndarray, bool]:
    """:func:`nm_prune` of a ``(groups, m)`` block, as ``(keep, has_nan)``: ``keep`` the
    keep-mask transposed to ``(m, groups)`` (row ``p``: position ``p`` of every group), and
    whether the block holds a NaN."""
    mag, has_nan = _magnitudes(groups)
    rank = _rank_pairwise if groups.shape[1] <= NM_PAIRWISE_MAX_M else _rank_sorted
    return rank(mag) < n, has_nan


def _magnitudes(block: np.ndarray) -> tuple[np.ndarray, bool]:
    """``|w|`` of a ``(groups, m)`` block as an ``(m, groups)`` array (row ``p``: position
    ``p`` of every group), NaN replaced by -1 (below every magnitude), and whether there was
    a NaN. float32 and float64 stay as they are, float16 widens to float32 (exact), anything
    else becomes float64."""
    if block.dtype in (np.float32, np.float64):
        dtype = block.dtype
    else:
        dtype = np.float32 if block.dtype == np.float16 else np.float64
    mag = np.empty(block.shape[::-1], dtype=dtype)
    for p in range(block.shape[1]):
        mag[p] = block[:, p]
    np.abs(mag, out=mag)
    has_nan = bool(np.isnan(mag.max(initial=0.0)))  # max carries a NaN along
    if has_nan:
        mag[np.isnan(mag)] = -1.0
    return mag, has_nan


def _rank_pairwise(mag: np.ndarray) -> np.ndarray:
    """Place of every element of its group (``mag``: ``(m, groups)``, no NaN) in the order of
    decreasing magnitude, ties to the earlier position: the number of elements ahead of it."""
    m = mag.shape[0]
    # Element p starts with its p predecessors ahead of it; each pair (i < j) then moves
    # one of them: j is ahead of i only with a strictly larger magnitude.
    rank = np.repeat(np.arange(m, dtype=np.uint8)[:, None], mag.shape[1], axis=1)
    later_ahead = np.empty(mag.shape[1], dtype=bool)
    step = later_ahead.view(np.uint8)  # the same bytes as 0 / 1 (a uint8 add is faster)
    for i in range(m):
        for j in range(i + 1, m):
            np.greater(mag[j], mag[i], out=later_ahead)
            rank[i] += step
            rank[j] -= step
    return rank


def _rank_sorted(mag: np.ndarray) -> np.ndarray:
    """:func:`_rank_pairwise` by a stable sort (for large M)."""
    order = np.argsort(-mag, axis=0, kind="stable")
    rank = np.empty(mag.shape, dtype=np.int64)
    np.put_along_axis(rank, order, np.arange(mag.shape[0])[:, None], axis=0)
    return rank


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
        mask[k::num_pes] = largest_first(w[k::num_pes].ravel(), int(keep[k])).reshape(-1, cols)
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
