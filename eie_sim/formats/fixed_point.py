"""16-bit fixed-point arithmetic of the EIE datapath (paper: "16-bit fixed-point arithmetic").

Numbers are two's-complement ``int16`` with a per-quantity count of fractional bits:

* activations: Q7.8 by default (``ACT_FRAC_BITS = 8``: 1 sign, 7 integer, 8 fraction bits,
  range [-128, 128), step 1/256). Post-ReLU activations of the FC layers we model are O(1..10);
  7 integer bits leave headroom for accumulation, 8 fraction bits keep the step below 0.4 %.
* shared weights (codebook entries): a per-layer number of fraction bits chosen so that the
  largest centroid fits (see :func:`frac_bits_for`), at most 15.

The arithmetic unit computes ``acc = sat16(acc + round_shift(w * a, weight_frac_bits))``:

* the product of two int16 is exact in 32 bits;
* ``round_shift`` rounds half up (adds ``2**(f-1)`` then shifts right arithmetically), which
  brings the product back to the activation format;
* the sum saturates to the int16 range at every addition (a saturating 16-bit accumulator),
  so the order of additions matters; every engine and the reference add a row's terms in
  broadcast order (increasing input index, bias last).

All functions accept numpy arrays or Python ints and are exact (integer-only).
"""

from __future__ import annotations

import numpy as np

INT16_MIN = -(1 << 15)
INT16_MAX = (1 << 15) - 1
ACT_FRAC_BITS = 8
MAX_FRAC_BITS = 15


def quantize(x: np.ndarray | float, frac_bits: int) -> np.ndarray:
    """Round real values to int16 fixed point with ``frac_bits`` fraction bits (saturating).

    Parameters
    ----------
    x : array_like of float
        Real values.
    frac_bits : int
        Fraction bits of the target format, 0..15.

    Returns
    -------
    numpy.ndarray of int16
        ``clip(floor(x * 2**frac_bits + 0.5))``: rounds half up, like :func:`round_shift`.
    """
    scaled = np.array(x, dtype=np.float64)  # a copy, worked on in place (no temporaries)
    scaled *= 1 << frac_bits
    scaled += 0.5
    np.floor(scaled, out=scaled)
    np.clip(scaled, INT16_MIN, INT16_MAX, out=scaled)
    return scaled.astype(np.int16)[()]


def to_float(q: np.ndarray | int, frac_bits: int) -> np.ndarray:
    """Real value of int16 fixed-point numbers with ``frac_bits`` fraction bits."""
    return np.asarray(q, dtype=np.float64) / (1 << frac_bits)


def round_shift(product: np.ndarray | int, shift: int) -> np.ndarray | int:
    """Arithmetic right shift by ``shift`` bits, rounding half up. Exact on int64 or int."""
    if shift == 0:
        return product
    return (product + (1 << (shift - 1))) >> shift


def saturate16(x: np.ndarray | int) -> np.ndarray | int:
    """Clamp to the int16 range; keeps the input's type (int stays int)."""
    if isinstance(x, (int, np.integer)):
        return INT16_MIN if x < INT16_MIN else INT16_MAX if x > INT16_MAX else int(x)
    return np.clip(x, INT16_MIN, INT16_MAX)


def frac_bits_for(max_abs: float, *, max_frac_bits: int = MAX_FRAC_BITS) -> int:
    """Largest number of fraction bits (<= ``max_frac_bits``) whose int16 range holds ``max_abs``.

    This is per-layer dynamic fixed point: the binary point of the shared weights moves per
    layer so that the largest codebook entry is representable without saturation.
    """
    if not np.isfinite(max_abs):
        raise ValueError(f"max_abs must be finite, got {max_abs}")
    for f in range(max_frac_bits, -1, -1):
        if max_abs * (1 << f) <= INT16_MAX:
            return f
    return 0


def accumulate_saturating(
    rows: np.ndarray, order: np.ndarray | None, terms: np.ndarray, n: int
) -> np.ndarray:
    """``out[r] = sat16(...sat16(sat16(0 + t1) + t2)...)`` over each row's terms in ``order``.

    Vectorised: where no partial sum of a row can leave the int16 range the result is the plain
    sum (:func:`signed_row_sums`); only the other rows are replayed in order
    (:func:`replay_saturating`).

    Parameters
    ----------
    rows : numpy.ndarray of int
        Output index of each term.
    order : numpy.ndarray of int, or None
        Accumulation order of the terms within a row (e.g. the input column); None means the
        terms are already in accumulation order.
    terms : numpy.ndarray of int64, or float64 holding integers
        Values to add (float64 sums are exact: every partial sum stays far below 2**53).
    n : int
        Number of outputs.

    Returns
    -------
    numpy.ndarray of int16
    """
    out, risky = signed_row_sums(2 * rows + (terms < 0), terms, n)
    if risky.any():
        replay_saturating(rows, order, terms, risky, out)
    return out.astype(np.int16)


def signed_row_sums(sign_rows: np.ndarray, terms: np.ndarray, n: int):
    """Plain row sums and the rows whose saturating sum may differ from them.

    ``sign_rows = 2 * row + (term < 0)`` (a zero term may go either way). A row whose positive
    terms sum to at most INT16_MAX and negative terms to at least INT16_MIN never saturates,
    whatever the order; the others are *risky*. One ``bincount`` gives both sums.

    Returns ``(sums, risky)``: int64 ``(n,)`` plain sums and a bool ``(n,)`` mask.
    """
    both = np.bincount(sign_rows, weights=terms, minlength=2 * n)
    pos, neg = both[0::2], both[1::2]
    return (pos + neg).astype(np.int64), (pos > INT16_MAX) | (neg < INT16_MIN)


def replay_saturating(
    rows: np.ndarray, order: np.ndarray | None, terms: np.ndarray, risky: np.ndarray,
    out: np.ndarray,
) -> None:
    """Overwrite ``out[r]`` for the ``risky`` rows with their term-by-term saturating sum.

    Terms are replayed in ``order`` (None: array order), one term per row per step.
    """
    sel = risky[rows]
    rr, tt = rows[sel], terms[sel].astype(np.int64)
    idx = np.argsort(rr, kind="stable") if order is None else np.lexsort((order[sel], rr))
    rr, tt = rr[idx], tt[idx]
    starts = np.flatnonzero(np.r_[True, rr[1:] != rr[:-1]])
    rank = np.arange(rr.size) - np.repeat(starts, np.diff(np.r_[starts, rr.size]))
    # Grouped by step (stable: rows stay distinct within a step), so each step is a slice.
    by_step = np.argsort(rank.astype(np.uint16) if rank.max() < 1 << 16 else rank,
                         kind="stable")
    rr, tt = rr[by_step], tt[by_step]
    bounds = np.r_[0, np.cumsum(np.bincount(rank))]
    acc = np.zeros(out.size, dtype=np.int64)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        r = rr[lo:hi]
        acc[r] = np.clip(acc[r] + tt[lo:hi], INT16_MIN, INT16_MAX)
    out[risky] = acc[risky]
