"""Tests of eie_sim/compress: magnitude and N:M pruning, k-means weight sharing."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.compress import kmeans_codebook, magnitude_prune, nm_prune, satisfies_nm

PROPS = settings(max_examples=80, deadline=None, derandomize=True)
NM_PATTERNS = [(2, 4), (1, 4), (2, 8), (4, 8)]


# ----------------------------------------------------------------------------- magnitude


@PROPS
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.floats(0.0, 1.0, allow_nan=False),
    st.integers(0, 2**32 - 1),
)
def test_magnitude_prune_keeps_exactly_the_largest(rows, cols, density, seed):
    """The mask keeps round(d * size) weights and every kept |w| >= every dropped |w|."""
    w = np.random.default_rng(seed).normal(size=(rows, cols))
    mask = magnitude_prune(w, density)
    assert mask.dtype == bool and mask.shape == w.shape
    keep = round(density * w.size)
    assert int(mask.sum()) == keep
    if 0 < keep < w.size:
        assert np.abs(w[mask]).min() >= np.abs(w[~mask]).max()


def test_magnitude_prune_small_example():
    """Sign does not matter, only magnitude."""
    w = np.array([[0.1, -5.0, 2.0], [-0.3, 4.0, -1.0]])
    mask = magnitude_prune(w, 0.5)
    assert mask.tolist() == [[False, True, True], [False, True, False]]


def test_magnitude_prune_ties_break_by_flat_index():
    """With all magnitudes equal, the earliest flat indices are kept; the count stays exact."""
    w = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])
    mask = magnitude_prune(w, 0.5)
    assert mask.ravel().tolist() == [True, True, True, False, False, False]


def test_magnitude_prune_extremes_and_shapes():
    """Density 0 keeps nothing, 1 keeps everything; 1-D and 3-D inputs keep their shape."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 4, 5))
    assert not magnitude_prune(w, 0.0).any()
    assert magnitude_prune(w, 1.0).all()
    assert magnitude_prune(w, 0.25).shape == (3, 4, 5)
    assert int(magnitude_prune(w, 0.25).sum()) == 15
    v = rng.normal(size=7)
    assert int(magnitude_prune(v, 0.3).sum()) == round(0.3 * 7)


@pytest.mark.parametrize("density", [-0.01, 1.01, float("nan")])
def test_magnitude_prune_rejects_bad_density(density):
    """A density outside [0, 1] raises ValueError."""
    with pytest.raises(ValueError, match="density"):
        magnitude_prune(np.ones((2, 2)), density)


# ----------------------------------------------------------------------------- N:M


@pytest.mark.parametrize("n, m", NM_PATTERNS)
@PROPS
@given(rows=st.integers(1, 12), groups=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_nm_prune_keeps_n_largest_per_group(n, m, rows, groups, seed):
    """Each group of m inputs keeps exactly its n largest magnitudes; the result satisfies N:M."""
    w = np.random.default_rng(seed).normal(size=(rows, groups * m))
    mask = nm_prune(w, n, m)
    assert mask.dtype == bool and mask.shape == w.shape
    g_mask = mask.reshape(rows, groups, m)
    g_abs = np.abs(w).reshape(rows, groups, m)
    assert np.all(g_mask.sum(axis=-1) == n)
    if n < m:
        kept_min = np.where(g_mask, g_abs, np.inf).min(axis=-1)
        dropped_max = np.where(g_mask, -np.inf, g_abs).max(axis=-1)
        assert np.all(kept_min >= dropped_max)
    pruned = w * mask
    assert satisfies_nm(pruned, n, m)
    if n < m:
        assert not satisfies_nm(w, n, m)  # dense Gaussian weights have no zeros


def test_nm_prune_2_4_example_and_ties():
    """2:4 on a known row; ties keep the earlier element of the group."""
    w = np.array([[0.1, -3.0, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0]])
    assert nm_prune(w, 2, 4).astype(int).tolist() == [[0, 1, 1, 0, 1, 1, 0, 0]]


def test_nm_prune_prunes_along_last_axis_of_3d():
    """Groups are formed along the last (input) axis for any leading shape."""
    w = np.arange(1, 25, dtype=float).reshape(2, 3, 4)
    mask = nm_prune(w, 1, 4)
    assert mask.shape == (2, 3, 4)
    assert np.all(mask[..., 3]) and not np.any(mask[..., :3])


@pytest.mark.parametrize("n, m", [(0, 4), (5, 4), (-1, 2)])
def test_nm_prune_rejects_bad_pattern(n, m):
    """N must be in 1..M."""
    with pytest.raises(ValueError, match="N:M"):
        nm_prune(np.ones((2, 8)), n, m)


def test_nm_prune_rejects_input_not_multiple_of_m():
    """The input dimension must be a multiple of M."""
    with pytest.raises(ValueError, match="multiple"):
        nm_prune(np.ones((2, 6)), 2, 4)


def test_satisfies_nm_counts_nonzeros_per_group():
    """At most n non-zeros in every group of m; the wrong width is never satisfied."""
    w = np.array([[1, 1, 0, 0, 1, 0, 1, 0]])
    assert satisfies_nm(w, 2, 4)
    assert not satisfies_nm(w, 1, 4)
    assert satisfies_nm(w, 4, 8)
    assert not satisfies_nm(w, 3, 8)
    assert not satisfies_nm(np.array([[1, 1, 1, 0, 0, 0, 0, 0]]), 2, 4)
    assert satisfies_nm(np.zeros((3, 8)), 1, 4)
    assert not satisfies_nm(np.zeros((3, 6)), 2, 4)


# ----------------------------------------------------------------------------- k-means


def int16_values(seed, size, kind):
    """Non-zero int16 test values: wide uniform, pruned-Laplace-like, or integer grid."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        v = rng.integers(-32768, 32768, size=size)
    elif kind == "pruned":
        mag = 2000 + rng.exponential(3000, size=size)
        v = np.round(np.where(rng.random(size) < 0.5, -mag, mag)).clip(-32768, 32767)
    else:
        v = rng.integers(-40, 41, size=size)
    v = v[v != 0]
    return (v if v.size else np.array([7])).astype(np.int16)


@PROPS
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 2000),
    st.sampled_from(["uniform", "pruned", "grid"]),
)
def test_kmeans_codebook_invariants(seed, size, kind):
    """codebook[0]==0, indices in 1..15, each value maps to its nearest centroid."""
    v = int16_values(seed, size, kind)
    cb, idx = kmeans_codebook(v)
    assert cb.dtype == np.int16 and cb.shape == (16,)
    assert cb[0] == 0
    assert idx.dtype == np.uint8 and idx.shape == v.shape
    assert idx.min() >= 1 and idx.max() <= 15
    decoded = cb[idx].astype(np.int64)
    dist = np.abs(v.astype(np.int64)[:, None] - cb[None, 1:].astype(np.int64))
    assert np.array_equal(np.abs(decoded - v), dist.min(axis=1))
    # Centroids: sorted, within the data range, at most 15 distinct, all of them used
    # when there are at least 15 distinct values.
    cents = cb[1:].astype(np.int64)
    assert np.all(np.diff(cents) >= 0)
    assert cents.min() >= v.min() and cents.max() <= v.max()
    distinct = np.unique(v).size
    assert np.unique(cents).size == min(15, distinct)
    assert np.unique(idx).size == min(15, distinct)


@PROPS
@given(
    st.lists(st.integers(-32768, 32767).filter(bool), min_size=1, max_size=15, unique=True),
    st.integers(0, 2**32 - 1),
    st.integers(1, 300),
)
def test_kmeans_exact_for_at_most_15_distinct_values(distinct, seed, size):
    """With <= 15 distinct values every value decodes to itself (no quantization error)."""
    rng = np.random.default_rng(seed)
    v = rng.choice(np.array(distinct, dtype=np.int16), size=size)
    cb, idx = kmeans_codebook(v)
    assert np.array_equal(cb[idx], v)
    assert set(cb[1:].tolist()) == set(np.unique(v).tolist())


@PROPS
@given(st.integers(0, 2**32 - 1), st.integers(1, 3000),
       st.sampled_from(["uniform", "pruned", "grid"]), st.sampled_from([1, 2, 15]))
def test_kmeans_sorting_and_histogram_give_the_same_bits(seed, size, kind, n_clusters):
    """Few values are sorted to find the distinct ones, many are histogrammed over the 2**16
    int16 values: both ways give the same codebook and indices."""
    from eie_sim.compress import weight_sharing

    v = int16_values(seed, size, kind)
    cb, idx = kmeans_codebook(v, n_clusters)
    old = weight_sharing._SORT_BELOW
    weight_sharing._SORT_BELOW = 0
    try:
        hist_cb, hist_idx = kmeans_codebook(v, n_clusters)
    finally:
        weight_sharing._SORT_BELOW = old
    assert v.size < old  # the first call sorted
    np.testing.assert_array_equal(cb, hist_cb)
    np.testing.assert_array_equal(idx, hist_idx)
    assert idx.dtype == hist_idx.dtype and cb.dtype == hist_cb.dtype


def test_kmeans_deterministic_and_order_independent():
    """Same input, same codebook; a permuted input gives the same codebook, permuted indices."""
    v = int16_values(7, 5000, "pruned")
    cb1, idx1 = kmeans_codebook(v)
    cb2, idx2 = kmeans_codebook(v.copy())
    assert np.array_equal(cb1, cb2) and np.array_equal(idx1, idx2)
    perm = np.random.default_rng(8).permutation(v.size)
    cb3, idx3 = kmeans_codebook(v[perm])
    assert np.array_equal(cb1, cb3)
    assert np.array_equal(idx1[perm], idx3)


def test_kmeans_empty_and_single_value():
    """No values: an all-zero codebook and no indices; one value: every entry is that value."""
    cb, idx = kmeans_codebook(np.zeros(0, dtype=np.int16))
    assert cb.tolist() == [0] * 16 and idx.size == 0
    cb, idx = kmeans_codebook(np.array([-123, -123, -123], dtype=np.int16))
    assert cb.tolist() == [0] + [-123] * 15
    assert idx.tolist() == [1, 1, 1]


def test_kmeans_fewer_clusters_and_shape():
    """n_clusters bounds the indices and the codebook size; 2-D input is flattened."""
    v = np.random.default_rng(3).integers(1, 30000, size=(20, 15)).astype(np.int16)
    cb, idx = kmeans_codebook(v, n_clusters=3)
    assert cb.shape == (4,) and cb[0] == 0
    assert idx.shape == (v.size,)
    assert set(np.unique(idx).tolist()) <= {1, 2, 3}
    assert np.unique(cb[1:]).size == 3


def test_kmeans_two_well_separated_groups():
    """Two tight groups with 1 cluster each (n_clusters=2) land on the group means."""
    v = np.array([-1001, -1000, -999, 499, 500, 501], dtype=np.int16)
    cb, idx = kmeans_codebook(v, n_clusters=2)
    assert cb.tolist() == [0, -1000, 500]
    assert idx.tolist() == [1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    "values, centroid",
    [([1, 2], 2), ([1, 2, 2], 2), ([1, 1, 2], 1), ([-2, -1], -1), ([-3, -2, -2], -2)],
)
def test_kmeans_centroids_round_half_up_to_the_int16_grid(values, centroid):
    """A single cluster's centroid is its mean rounded half up (floor(mean + 0.5))."""
    cb, idx = kmeans_codebook(np.array(values, dtype=np.int16), n_clusters=1)
    assert cb.tolist() == [0, centroid]
    assert idx.tolist() == [1] * len(values)


def test_kmeans_blocks_and_integer_dtypes(monkeypatch):
    """Histogram and lookup in tiny blocks give the same result; other integer dtypes in the
    int16 range (including its ends) are taken by value, values outside it are a ValueError."""
    from eie_sim.compress import weight_sharing

    v = int16_values(11, 3001, "pruned")
    v[:2] = [-32768, 32767]
    cb, idx = kmeans_codebook(v)
    monkeypatch.setattr(weight_sharing, "_BLOCK", 64)
    cb_b, idx_b = kmeans_codebook(v)
    assert np.array_equal(cb, cb_b) and np.array_equal(idx, idx_b)
    for dtype in (np.int32, np.int64):
        cb_d, idx_d = kmeans_codebook(v.astype(dtype))
        assert np.array_equal(cb, cb_d) and np.array_equal(idx, idx_d)
    cb_s, idx_s = kmeans_codebook(v[::2])  # not contiguous
    assert np.array_equal(idx_s, kmeans_codebook(v[::2].copy())[1])
    for bad in (-32769, 32768):
        with pytest.raises(ValueError, match="int16"):
            kmeans_codebook(np.array([1, bad]))
