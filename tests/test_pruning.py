"""Load-balance-aware pruning (ESE) beside ordinary magnitude pruning, and the named methods."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.compress import (
    PRUNE_METHODS,
    load_balance_prune,
    magnitude_prune,
    nm_prune,
    pe_nonzeros,
    prune,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rows=st.integers(1, 70), cols=st.integers(1, 40), pes=st.integers(1, 20),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_load_balance_equal_nonzeros_per_pe(rows, cols, pes, density, seed):
    """Every PE keeps within one weight of density x its sub-matrix size; equal sub-matrices
    (PEs dividing the rows) give non-zero counts within one of each other; the total is
    magnitude pruning's."""
    w = np.random.default_rng(seed).normal(size=(rows, cols))
    mask = load_balance_prune(w, density, pes)
    per_pe = pe_nonzeros(mask, pes)
    sizes = np.array([len(range(k, rows, pes)) * cols for k in range(pes)])
    assert np.all(np.abs(per_pe - density * sizes) < 1 + 1e-9)
    assert mask.sum() == magnitude_prune(w, density).sum() == round(density * w.size)
    if rows % pes == 0:
        assert per_pe.max() - per_pe.min() <= 1


@settings(max_examples=40, deadline=None, derandomize=True)
@given(rows=st.integers(1, 40), cols=st.integers(1, 30), pes=st.integers(1, 8),
       density=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_load_balance_keeps_the_largest_in_each_sub_matrix(rows, cols, pes, density, seed):
    w = np.random.default_rng(seed).normal(size=(rows, cols))
    mask = load_balance_prune(w, density, pes)
    for k in range(pes):
        sub, kept = np.abs(w[k::pes]), mask[k::pes]
        if kept.any() and (~kept).any():
            assert sub[kept].min() >= sub[~kept].max()


def test_one_pe_is_magnitude_pruning():
    w = np.random.default_rng(3).normal(size=(17, 9))
    np.testing.assert_array_equal(load_balance_prune(w, 0.3, 1), magnitude_prune(w, 0.3))


def test_magnitude_pruning_spread_is_preserved_for_comparison():
    """Ordinary magnitude pruning of a matrix whose rows differ in scale leaves the PEs unequal;
    load-balance pruning of the same matrix evens them out (the ESE paper's Fig. 5 effect)."""
    rng = np.random.default_rng(7)
    rows, cols, pes = 256, 128, 16
    w = rng.normal(size=(rows, cols)) * rng.lognormal(0.0, 0.5, size=(rows, 1))
    plain = pe_nonzeros(magnitude_prune(w, 0.1), pes)
    balanced = pe_nonzeros(load_balance_prune(w, 0.1, pes), pes)
    assert plain.sum() == balanced.sum()
    assert plain.max() - plain.min() > 20  # the spread magnitude pruning leaves
    assert balanced.max() - balanced.min() <= 1
    # magnitude_prune itself is unchanged: the same mask as the global top-k.
    flat = np.abs(w).ravel()
    top = np.zeros(flat.size, bool)
    top[np.argsort(-flat, kind="stable")[: round(0.1 * flat.size)]] = True
    np.testing.assert_array_equal(magnitude_prune(w, 0.1), top.reshape(w.shape))


def test_more_pes_than_rows():
    w = np.arange(12, dtype=float).reshape(3, 4) + 1
    mask = load_balance_prune(w, 0.5, 8)
    assert mask.sum() == 6
    assert list(pe_nonzeros(mask, 8)) == [2, 2, 2, 0, 0, 0, 0, 0]


def test_named_methods():
    w = np.random.default_rng(1).normal(size=(8, 16))
    assert PRUNE_METHODS == ("magnitude", "load-balance", "n:m")
    np.testing.assert_array_equal(prune(w, "magnitude", 0.25), magnitude_prune(w, 0.25))
    np.testing.assert_array_equal(prune(w, "load-balance", 0.25, num_pes=4),
                                  load_balance_prune(w, 0.25, 4))
    np.testing.assert_array_equal(prune(w, "n:m", pattern="2:4"), nm_prune(w, 2, 4))
    with pytest.raises(ValueError, match="allowed: magnitude, load-balance, n:m"):
        prune(w, "random", 0.5)
    with pytest.raises(ValueError, match="num_pes"):
        prune(w, "load-balance", 0.5)
    with pytest.raises(ValueError, match="pattern"):
        prune(w, "n:m")
    with pytest.raises(ValueError, match="num_pes"):
        load_balance_prune(w, 0.5, 0)
    with pytest.raises(ValueError, match="density"):
        load_balance_prune(w, 1.5, 2)


# ----------------------------------------------------------------------------- N:M edges
def _nm_prune_by_sort(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """nm_prune's rule written as a stable sort of -|w| per group (NaN sorts last)."""
    groups = np.abs(np.asarray(w, dtype=np.float64)).reshape(-1, m)
    order = np.argsort(-groups, axis=1, kind="stable")
    mask = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(mask, order[:, :n], True, axis=1)
    return mask.reshape(np.shape(w))


def test_nm_prune_ties_zeros_and_nan():
    """Ties (+0 and -0 included) keep the earlier element; NaN ranks below every number,
    NaNs among themselves by position."""
    nan = np.nan
    w = np.array([[0.0, -0.0, -0.0, 1.0], [nan, 1.0, nan, 0.0], [nan, nan, -0.0, nan]])
    assert nm_prune(w, 2, 4).astype(int).tolist() == [[1, 0, 0, 1], [0, 1, 0, 1],
                                                        [1, 0, 1, 0]]
    assert nm_prune(w, 3, 4)[1].astype(int).tolist() == [1, 1, 0, 1]


def test_nm_prune_integer_magnitudes():
    """Integers compare by magnitude as float64: int8 -128 is the largest."""
    w = np.array([[127, -128, 1, 0]], dtype=np.int8)
    assert nm_prune(w, 1, 4).astype(int).tolist() == [[0, 1, 0, 0]]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(1, 8), m=st.sampled_from([2, 3, 4, 8, 16, 20]), rows=st.integers(1, 9),
       groups=st.integers(1, 9), dtype=st.sampled_from(["float64", "float32", "float16",
                                                        "int8"]),
       seed=st.integers(0, 2**16))
def test_nm_prune_is_the_stable_sort(n, m, rows, groups, dtype, seed):
    """Pairwise ranking, the sort used for large M and tiny blocks all give the stable sort's
    mask, on values full of ties, signed zeros and NaN."""
    import eie_sim.compress.pruning as pruning

    n = min(n, m)
    rng = np.random.default_rng(seed)
    w = rng.choice([0.0, -0.0, 1.0, -1.0, 2.0, -0.5, np.nan, np.inf],
                   size=(rows, groups * m))
    w = np.nan_to_num(w, posinf=100, neginf=-100).astype(dtype) if dtype == "int8" \
        else w.astype(dtype)
    want = _nm_prune_by_sort(w, n, m)
    assert np.array_equal(nm_prune(w, n, m), want)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pruning, "NM_BLOCK_GROUPS", 3)
        assert np.array_equal(nm_prune(w, n, m), want)
        mp.setattr(pruning, "NM_PAIRWISE_MAX_M", 1)
        assert np.array_equal(nm_prune(w, n, m), want)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 3.5, 1e300, np.inf, np.nan]),
                max_size=40), st.integers(-1, 45))
def test_largest_first_is_the_first_of_a_stable_sort(values, count):
    """The selection keeps exactly what a stable sort of -|w| keeps first: ties (many, signed
    zeros) to the earlier index, NaN after every number, counts beyond the size."""
    from eie_sim.compress.pruning import largest_first

    mag = np.abs(np.array(values, dtype=np.float64))
    want = np.zeros(mag.size, dtype=bool)
    want[np.argsort(-mag, kind="stable")[: max(count, 0)]] = True
    np.testing.assert_array_equal(largest_first(mag, count), want)
