"""The tensor core's functional path at GEMM sizes (issue 14.5): the compiled blocked loop and
its numpy fallback against a scalar implementation of the documented rule (one float32
rounding per product, ascending K), the engine's outputs and the reference on the same
operands, int8 through exact float64 sums, and the faster preparation (N:M compression,
pruning, batch columns) against the code it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim import simulate
from eie_sim.accel import using
from eie_sim.config import STCConfig
from eie_sim.engines.stc import fast as stc_fast
from eie_sim.engines.stc import kernels
from eie_sim.engines.stc.adapter import activations, from_layer
from eie_sim.engines.stc.common import make_plan, operands
from eie_sim.engines.stc.reference import (
    bits_equal,
    int8_gemm,
    reference_gemm,
    reference_gemm_numpy,
    wrap_int32,
)
from eie_sim.errors import ResourceError
from eie_sim.formats.nm_sparse import compress
from eie_sim.layer import QuantizedLayer

PATHS = ("compiled", "numpy")  # compiled and the numpy fallback


def scalar_rule(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The documented fp16 rule, one output at a time, one product at a time."""
    out = np.zeros((w.shape[0], x.shape[1]), dtype=np.float32)
    for i in range(w.shape[0]):
        for j in range(x.shape[1]):
            acc = np.float32(0.0)
            for k in range(w.shape[1]):
                acc = np.float32(acc + np.float32(w[i, k]) * np.float32(x[k, j]))
            out[i, j] = acc
    return out


# fp16 values spanning the whole range: subnormals, 1 +- ulp, the largest, signs, zeros.
SPECIAL = np.array([0.0, -0.0, 2.0**-24, 3 * 2.0**-24, 2.0**-14, 1.0, 1.0 + 2.0**-10,
                    -1.0, 2048.0, 2049.0 - 1.0, 65504.0, -65504.0, 0.1, -0.3, 3.0],
                   dtype=np.float16)


@st.composite
def gemm_case(draw):
    m = draw(st.integers(1, 6))
    k = draw(st.integers(1, 40))
    n = draw(st.integers(1, 11))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, SPECIAL.size, size=(m, k))
    w = np.where(rng.random((m, k)) < 0.5, SPECIAL[pick],
                 rng.standard_normal((m, k)) * 10.0 ** rng.integers(-6, 4, (m, k)))
    w = np.where(rng.random((m, k)) < draw(st.floats(0, 1)), 0.0, w).astype(np.float16)
    x = np.where(rng.random((k, n)) < 0.5, SPECIAL[rng.integers(0, SPECIAL.size, (k, n))],
                 rng.standard_normal((k, n)) * 10.0 ** rng.integers(-6, 4, (k, n)))
    x = np.clip(x, -65504, 65504).astype(np.float16)
    w = np.clip(w.astype(np.float64), -65504, 65504).astype(np.float16)
    return w, x


@settings(max_examples=60, deadline=None)
@given(gemm_case())
def test_sequential_gemm_is_the_rule(case) -> None:
    w, x = case
    want = scalar_rule(w, x)
    for path in PATHS:
        with using(path):
            assert bits_equal(reference_gemm(w, x), want), path
            assert bits_equal(kernels.sequential_gemm(*kernels.csr_of_dense(w), x), want)
            dense_rows = np.arange(w.shape[0] + 1, dtype=np.int64) * w.shape[1]
            assert bits_equal(kernels.sequential_gemm(dense_rows, None, w.ravel(), x), want)
    assert bits_equal(reference_gemm_numpy(w, x), want)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(gemm_case())
def test_gemm_tasks_split_between_threads_keep_the_rule(case) -> None:
    """The compiled loop's tasks (row blocks of column blocks) on several threads (forced with
    a tiny threshold and tiny blocks) give the rule's bits."""
    from eie_sim import accel

    w, x = case
    old = accel.PARALLEL_ENTRIES, kernels.ROW_BLOCK, kernels.COL_BLOCK
    accel.PARALLEL_ENTRIES, kernels.ROW_BLOCK, kernels.COL_BLOCK = 1, 2, 8
    try:
        with using("compiled"):
            got = kernels.sequential_gemm(*kernels.csr_of_dense(w), x)
    finally:
        accel.PARALLEL_ENTRIES, kernels.ROW_BLOCK, kernels.COL_BLOCK = old
    assert bits_equal(got, scalar_rule(w, x))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(gemm_case())
def test_csr_of_dense_lists_the_non_zeros(case) -> None:
    """csr_of_dense: the entries np.nonzero finds (-0 is zero, NaN is not), row by row, also
    of a non-contiguous matrix and with the columns given."""
    w = case[0]
    w[0, 0] = np.float16(-0.0)
    for mat in (w, np.asfortranarray(w)):
        rows, cols = np.nonzero(mat.astype(np.float64))
        indptr, indices, data = kernels.csr_of_dense(mat)
        assert np.array_equal(indptr, np.searchsorted(rows, np.arange(w.shape[0] + 1)))
        assert np.array_equal(indices, cols) and indices.dtype == np.int32
        assert data.tobytes() == mat[rows, cols].astype(np.float32).tobytes()
    columns = np.arange(w.size).reshape(w.shape) * 3
    _, indices, _ = kernels.csr_of_dense(w, columns)
    assert np.array_equal(indices, columns[rows, cols])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("k0", [0, 253, 254, 255, 256, 511, 597])
def test_order_is_ascending_k_across_blocks_and_unrolling(path: str, k0: int) -> None:
    """1 + 2^-24 + 2^-24 rounds to 1 twice in ascending order (ties to even), while the exact
    sum 1 + 2^-23 is a float32: a pairwise, blocked-partial-sum or float64 evaluation would
    give 1 + 2^-23. In the opposite order the rule itself gives 1 + 2^-23. The three products
    sit at K = k0, k0 + 1, k0 + 2 (around the loop's K blocks of 256 and its 4-way unrolling).
    """
    k = 600
    w = np.zeros((3, k), dtype=np.float16)
    x = np.zeros((k, 9), dtype=np.float16)
    w[0, k0 : k0 + 3] = 1.0
    w[1, k0 : k0 + 3] = 1.0
    w[1, k0 + 3 : k0 + 5] = -0.0  # zeros after: no change
    w[2, [k0, k0 + 2]] = 1.0  # a gap: the compressed rows skip K = k0 + 1
    x[k0, :] = [1.0, 2.0**-24, 2.0**-24, 1, 1, 1, 1, 1, 1]
    x[k0 + 1, :] = [2.0**-24, 2.0**-24, 1.0, 1, 1, 1, 1, 1, 1]
    x[k0 + 2, :] = [2.0**-24, 1.0, 2.0**-24, 1, 1, 1, 1, 1, 1]
    with using(path):
        got = reference_gemm(w, x)
        dense_rows = np.arange(4, dtype=np.int64) * k
        got_dense = kernels.sequential_gemm(dense_rows, None, w.ravel(), x)
    one, up, tiny = np.float32(1.0), np.float32(1.0 + 2.0**-23), np.float32(2.0**-23)
    # 1 first: both tiny products lost; tiny ones first: their exact sum survives; 1 in the
    # middle: 2^-24 + 1 ties to 1 (even), and so does the last addition.
    assert got[0, :3].tolist() == [one, up, one]
    assert got[1, :3].tolist() == [one, up, one]
    assert got[2, :3].tolist() == [one, one, tiny]  # K = k0 + 1 skipped
    assert bits_equal(got, scalar_rule(w, x))
    assert bits_equal(got_dense, got)


@pytest.mark.parametrize("path", PATHS)
def test_cancellation_and_ragged_rows(path: str) -> None:
    """Exact cancellation leaves +0 (never -0); rows of different lengths, an empty row, a
    batch wider than one column block and not a multiple of 8."""
    rng = np.random.default_rng(3)
    k, n = 300, 261
    w = rng.standard_normal((5, k)).astype(np.float16)
    w[1] = 0
    w[2, 150:] = -w[2, :150]
    w[3, ::7] = 0
    x = np.abs(rng.standard_normal((k, n))).astype(np.float16)
    x[150:] = x[:150]
    with using(path):
        got = reference_gemm(w, x)
    assert bits_equal(got, reference_gemm_numpy(w, x))
    assert not np.signbit(got[1]).any() and (got[1] == 0).all()


@pytest.mark.parametrize("dtype", ["fp16", "int8"])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("path", PATHS)
def test_engine_outputs_equal_the_reference(dtype: str, sparse: bool, path: str) -> None:
    """The fast engine gathers the stored slots by their metadata (or, dense twin, reads the
    rows' non-zeros); the reference reads the decompressed weights. Under-full groups (explicit
    zeros), a bias, padding of rows, K and batch."""
    rng = np.random.default_rng(7)
    rows, k, batch = 37, 301, 19
    w = rng.standard_normal((rows, k))
    w[rng.random((rows, k)) < 0.6] = 0.0
    cfg = STCConfig.preset("a100", dtype=dtype, batch=batch)
    if not sparse:
        cfg = cfg.dense_twin()
    layer = from_layer(w, 2, 4, dtype)
    x = activations(np.abs(rng.standard_normal((k, batch))), batch)
    xq = x.astype(np.float16) if dtype == "fp16" else np.clip(np.rint(x * 40), 0, 127).astype(
        np.int8)
    bias = (rng.standard_normal(rows).astype(np.float32) if dtype == "fp16"
            else rng.integers(-1000, 1000, rows).astype(np.int32))
    plan = make_plan(rows, k, batch, cfg, bias=True)
    ops = operands(layer.weights, xq, plan, bias)
    with using(path):
        got = stc_fast.outputs(plan, ops)
        want = reference_gemm(layer.dense(), xq, bias)
    assert bits_equal(got, want)
    assert bits_equal(want, reference_gemm_numpy(layer.dense(), xq, bias))


def test_int8_wraps_like_int32() -> None:
    """Float64 sums are exact for int8 (|product| <= 2^14, K * 2^14 < 2^53) and wrap modulo
    2^32: 140 000 products of 127 x 127 exceed 2^31."""
    k = 140_000
    w = np.full((2, k), 127, dtype=np.int8)
    w[1, ::3] = -128
    x = np.full((k, 3), 127, dtype=np.int8)
    x[::5, 1] = -128
    want = wrap_int32(w.astype(np.int64) @ x.astype(np.int64))
    got = int8_gemm(w, x)
    assert got.dtype == np.int32 and np.array_equal(got, want)
    assert (w[0].astype(np.int64) @ x[:, 0].astype(np.int64)) > 2**31  # it did wrap


# --------------------------------------------------------------------------- preparation
def _compress_before(dense: np.ndarray, n: int, m: int):
    """The chosen positions as compress() computed them before (argsort of the keys)."""
    pad = -dense.shape[1] % m
    wp = np.pad(dense, ((0, 0), (0, pad)))
    groups = wp.reshape(dense.shape[0], -1, m)
    pos = np.arange(m, dtype=np.int64)
    key = np.where(groups != 0, pos, m + pos)
    chosen = np.sort(np.argsort(key, axis=2, kind="stable")[:, :, :n], axis=2)
    return np.take_along_axis(groups, chosen, axis=2), chosen


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 5), st.integers(1, 30),
       st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_compress_keeps_its_layout(n: int, m: int, rows: int, cols: int, density: float,
                                   seed: int) -> None:
    if n > m or m < 2:
        return
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols))
    w[rng.random((rows, cols)) >= density] = 0.0
    sp = compress(w, n, m, prune=True)
    from eie_sim.compress.pruning import nm_prune

    wp = np.pad(w, ((0, 0), (0, -cols % m)))
    values, chosen = _compress_before(np.where(nm_prune(wp, n, m), wp, 0.0), n, m)
    assert np.array_equal(sp.indices, chosen) and np.array_equal(sp.values, values)
    assert np.array_equal(from_layer(w, n, m, "fp16").weights.values,
                          compress(compress(w, n, m, prune=True).decompress().astype(
                              np.float16), n, m).values)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from([(2, 4), (1, 4), (2, 8), (4, 8)]), st.integers(1, 6), st.integers(1, 30),
       st.sampled_from(["fp16", "int8"]), st.integers(0, 2**16))
def test_from_layer_is_prune_quantize_compress(pattern, rows: int, cols: int, dtype: str,
                                               seed: int) -> None:
    """from_layer quantizes only the kept values; the result is that of pruning the dense
    matrix, quantizing all of it and compressing, also where kept values round to zero
    (fp16 underflow, small int8 values) and with signed zeros."""
    from eie_sim.compress.pruning import nm_prune
    from eie_sim.engines.stc.adapter import _quantize

    n, m = pattern
    rng = np.random.default_rng(seed)
    w = rng.choice([0.0, -0.0, 1e-9, -1e-9, 1e-3, -0.3, 1.0, 4.0], size=(rows, cols))
    wp = np.pad(w, ((0, 0), (0, -cols % m)))
    pruned = np.where(nm_prune(wp, n, m), wp, 0.0)[:, :cols]
    q, scale = _quantize(pruned, dtype, "w")
    want = compress(q, n, m)
    got = from_layer(w, n, m, dtype)
    assert got.weight_scale == scale
    assert got.weights.values.tobytes() == want.values.tobytes()
    assert np.array_equal(got.weights.indices, want.indices)


def test_batch_columns_are_the_documented_permutations() -> None:
    v = np.arange(1, 50, dtype=np.float64) - 10
    got = activations(v, 6, seed=4)
    rng = np.random.default_rng([4, 6])
    want = np.empty((v.size, 6))
    want[:, 0] = v
    for c in range(1, 6):
        want[:, c] = v[rng.permutation(v.size)]
    assert np.array_equal(got, np.maximum(want, 0.0))


# --------------------------------------------------------------------------- timing only
def test_timing_only_gemm_makes_no_operands(monkeypatch: pytest.MonkeyPatch) -> None:
    """values=False plans a 16384^3 GEMM without operands: under a 1 GiB budget it runs
    (a plan of tiles and stages), while the same layer with values is refused up front."""
    monkeypatch.setenv("EIE_SIM_MAX_MEMORY", "1GiB")
    n = 16384
    layer = QuantizedLayer(name="gemm", n_in=n, n_out=n, col_ptr=np.zeros(n + 1, np.int64),
                           row_idx=np.zeros(0, np.int32), weight_idx=np.zeros(0, np.uint8),
                           codebook=np.arange(16, dtype=np.int16), weight_frac_bits=8)
    cfg = STCConfig.preset("a100", batch=n)
    x = np.ones(n, dtype=np.int16)
    res = simulate(cfg, layer, inputs=x, values=False, energy=None)
    assert res.layers[0].counts["tc.fp16_mac"] == n * n * n // 2
    assert res.layers[0].outputs.size == 0
    with pytest.raises(ResourceError):
        simulate(cfg, layer, inputs=x, energy=None)
