"""The N:M compressed format: exact sizes, round trip, pruning, refusal of violations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.compress.pruning import satisfies_nm
from eie_sim.errors import WorkloadError
from eie_sim.formats.nm_sparse import NMSparse, compress, first_violation

PATTERNS = [(2, 4), (1, 4), (2, 8), (4, 8)]


def pruned(rows: int, cols: int, n: int, m: int, seed: int = 0, dtype=np.float64) -> np.ndarray:
    w = np.random.default_rng(seed).standard_normal((rows, cols))
    return compress(w, n, m, prune=True).decompress().astype(dtype)


@pytest.mark.parametrize("n,m", PATTERNS)
@pytest.mark.parametrize("dtype", [np.float16, np.int8])
def test_sizes_are_exact(n: int, m: int, dtype) -> None:
    rows, cols = 7, 5 * m + 3  # a partial last group
    w = pruned(rows, cols, n, m, dtype=np.float64)
    w = (w * 10).astype(dtype)
    nm = compress(w, n, m)
    groups = -(-cols // m)
    bits = math.ceil(math.log2(m))
    assert nm.groups == groups
    assert nm.index_bits == bits
    assert nm.kept == rows * groups * n
    assert nm.metadata_bits == rows * groups * n * bits
    assert nm.metadata_bytes == -(-rows * groups * n * bits // 8)
    assert nm.value_bytes == rows * groups * n * np.dtype(dtype).itemsize
    assert nm.nbytes == nm.value_bytes + nm.metadata_bytes
    assert nm.values.shape == nm.indices.shape == (rows, groups, n)


def test_two_four_ratios_fp16_and_int8() -> None:
    w = pruned(64, 256, 2, 4)
    fp16 = compress(w.astype(np.float16), 2, 4)
    int8 = compress(np.sign(w).astype(np.int8), 2, 4)
    assert fp16.compression_ratio == pytest.approx(9 / 16, abs=0)
    assert int8.compression_ratio == pytest.approx(10 / 16, abs=0)
    # 2-bit indices: 64 rows x 128 kept x 2 bits = 2048 bytes exactly.
    assert fp16.metadata_bytes == 64 * 128 * 2 // 8 == 2048


def test_metadata_bytes_round_up_only_once() -> None:
    nm = compress(np.zeros((3, 4)), 1, 4)  # 3 kept values x 2 bits = 6 bits -> 1 byte
    assert nm.metadata_bits == 6
    assert nm.metadata_bytes == 1


@pytest.mark.parametrize("n,m", PATTERNS)
def test_round_trip_and_index_order(n: int, m: int) -> None:
    w = pruned(9, 6 * m + 1, n, m, seed=3)
    w[2, :] = 0.0  # under-full groups store explicit zeros
    nm = compress(w, n, m)
    np.testing.assert_array_equal(nm.decompress(), w)
    idx = nm.indices.astype(int)
    assert np.all(np.diff(idx, axis=2) > 0)  # distinct, ascending
    assert idx.max() < m
    cols = nm.absolute_indices()
    assert np.all(np.diff(cols, axis=1) > 0)
    np.testing.assert_array_equal(
        np.take_along_axis(np.pad(w, ((0, 0), (0, nm.groups * m - w.shape[1]))), cols, 1),
        nm.values.reshape(9, -1),
    )


def test_refusal_names_first_violation_and_fix() -> None:
    w = np.zeros((4, 12))
    w[2, 4:7] = [1.0, -2.0, 3.0]  # row 2, group 1 has 3 non-zeros
    w[3, 0:4] = 1.0
    assert first_violation(w, 2, 4) == (2, 1, 3)
    with pytest.raises(WorkloadError) as err:
        compress(w, 2, 4)
    msg = str(err.value)
    assert "\n" not in msg
    assert "2:4" in msg and "row 2, group 1" in msg and "inputs 4..7" in msg
    assert "3 non-zeros" in msg and "prune=True" in msg and "--prune" in msg


def test_prune_keeps_largest_magnitudes() -> None:
    w = np.array([[0.1, -5.0, 3.0, 0.2, 1.0, 1.0, 1.0, 1.0]])
    nm = compress(w, 2, 4, prune=True)
    np.testing.assert_array_equal(nm.decompress(), [[0, -5.0, 3.0, 0, 1.0, 1.0, 0, 0]])
    assert satisfies_nm(nm.decompress(), 2, 4)


def test_dtype_is_kept_and_astype() -> None:
    w = pruned(4, 16, 2, 4).astype(np.float16)
    nm = compress(w, 2, 4)
    assert nm.values.dtype == np.float16
    assert isinstance(nm.astype(np.float32), NMSparse)
    assert nm.astype(np.float32).values.dtype == np.float32


@pytest.mark.parametrize("n,m", [(0, 4), (5, 4), (1, 1)])
def test_bad_pattern_is_refused(n: int, m: int) -> None:
    with pytest.raises(WorkloadError, match="N:M pattern"):
        compress(np.zeros((2, 8)), n, m)


def test_non_matrix_is_refused() -> None:
    with pytest.raises(WorkloadError, match="2-D"):
        compress(np.zeros(8), 2, 4)


def test_prune_drops_nan_and_keeps_the_lowest_zero_slots() -> None:
    """A NaN ranks below zero when pruning; its slot then holds a zero, the lowest unused
    position, like any other zero."""
    nm = compress(np.array([[np.nan, 0.0, 0.0, 1.0]]), 2, 4, prune=True)
    assert nm.indices.tolist() == [[[0, 3]]] and nm.values.tolist() == [[[0.0, 1.0]]]


@pytest.mark.parametrize("prune", [False, True])
def test_signed_zeros_are_stored_as_found(prune: bool) -> None:
    """An explicit zero is read from its position: -0 stays -0, and does not count as a
    non-zero (nnz)."""
    w = np.array([[-0.0, 0.0, 0.0, 5.0], [0.0, -0.0, 0.0, 5.0]], dtype=np.float16)
    nm = compress(w, 2, 4, prune=prune)
    assert nm.indices.tolist() == [[[0, 3]], [[0, 3]]]
    assert np.signbit(nm.values[:, 0, 0]).tolist() == [True, False]
    assert nm.nnz == 2


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.sampled_from(PATTERNS), st.integers(1, 12), st.integers(1, 40),
       st.sampled_from(["float64", "float16", "int8"]), st.integers(0, 2**16))
def test_blocks_do_not_show(pattern, rows: int, cols: int, dtype: str, seed: int) -> None:
    """compress works in blocks of rows: tiny blocks give the same result, and a refusal
    names the same first violating row."""
    import eie_sim.formats.nm_sparse as nm_sparse

    n, m = pattern
    rng = np.random.default_rng(seed)
    w = rng.choice([0.0, -0.0, 1.0, -2.0, 0.5], size=(rows, cols)).astype(dtype)
    for prune in (False, True):
        try:
            want = compress(w, n, m, prune=prune)
        except WorkloadError as err:
            want = str(err)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(nm_sparse, "BLOCK_GROUPS", 3)
            try:
                got = compress(w, n, m, prune=prune)
            except WorkloadError as err:
                assert str(err) == want
                continue
        assert got.values.tobytes() == want.values.tobytes()
        assert np.array_equal(got.indices, want.indices)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.sampled_from(PATTERNS), st.integers(1, 6), st.integers(1, 30), st.integers(0, 2**16))
def test_replace_values_is_compress_of_the_replaced_matrix(pattern, rows: int, cols: int,
                                                           seed: int) -> None:
    """Values that become zero (here: fp16 underflow) move the kept positions exactly as
    compressing the replaced dense matrix would."""
    n, m = pattern
    rng = np.random.default_rng(seed)
    w = rng.choice([0.0, -0.0, 1.0, -2.0, 1e-9, -1e-9], size=(rows, cols))
    nm = compress(w, n, m, prune=True)
    q = nm.values.astype(np.float16)
    got = nm.replace_values(q)
    want = compress(nm.astype(np.float16).decompress(), n, m)
    assert got.values.tobytes() == want.values.tobytes()
    assert np.array_equal(got.indices, want.indices)
    with pytest.raises(ValueError, match="shape"):
        nm.replace_values(q.reshape(-1))
