"""The compiled loops (eie_sim.accel, eie_sim._loops) against the numpy code.

Both must give identical results; the whole-engine comparison on generated layers and on the
Table III layers is in tests/test_eie_equivalence.py (every fast run there is repeated with
``EIE_SIM_ACCELERATOR=numpy``). Here: the recurrence alone on arbitrary work, adv, capacity
and DRAM-ready cycles (including shapes no encoding produces), and the choice of accelerator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim import accel
from eie_sim.cli import main
from eie_sim.config import EIEConfig
from eie_sim.engines.pe_array.recurrence import broadcast_recurrence_numpy
from eie_sim.engines.pe_array.timing import PUSH_TO_ISSUE
from eie_sim.errors import ConfigError


@st.composite
def recurrences(draw):
    passes = draw(st.integers(1, 3))
    n = draw(st.integers(1, 9))
    b = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spread = draw(st.sampled_from([1, 3, 40]))
    work = 1 + rng.geometric(1 / spread, size=(passes, n, b)) - 1
    # One PE slower than the rest half of the time: long runs of binding queue gates.
    if draw(st.booleans()):
        work[:, rng.integers(n), :] *= draw(st.integers(2, 20))
    adv = rng.integers(0, draw(st.sampled_from([1, 3])), size=b)
    capacity = draw(st.integers(1, 16))
    ready = None
    if draw(st.booleans()):
        ready = np.cumsum(rng.integers(0, 30, size=(passes, b)), axis=1) + 1
    return work.astype(np.int64), adv.astype(np.int64), capacity, ready


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(recurrences())
def test_compiled_recurrence_equals_numpy(case):
    """On one thread and with the passes split between threads (forced with a tiny
    threshold)."""
    work, adv, capacity, ready = case
    want = broadcast_recurrence_numpy(work, adv, capacity, ready)
    got = accel.recurrence(work, adv, capacity, PUSH_TO_ISSUE, ready)
    old = accel.PARALLEL_ENTRIES
    accel.PARALLEL_ENTRIES = 1
    try:
        threaded = accel.recurrence(work, adv, capacity, PUSH_TO_ISSUE, ready)
    finally:
        accel.PARALLEL_ENTRIES = old
    for w, g, t in zip(want, got, threaded, strict=True):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(t, w)


def test_the_compiled_loops_were_built():
    """The install compiled the loops (a broken build would silently leave only numpy code)."""
    from eie_sim import _loops

    assert accel.kernels() is _loops
    assert accel.description() == "compiled loops"


def test_dispatch_follows_the_environment(monkeypatch):
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "numpy")
    assert accel.kernels() is None
    assert accel.description() == "numpy code, EIE_SIM_ACCELERATOR=numpy"
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "compiled")
    assert accel.kernels() is not None
    with accel.using("numpy"):
        assert accel.kernels() is None
    assert accel.kernels() is not None
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "auto")
    assert accel.kernels() is not None


def test_without_the_compiled_loops_auto_runs_numpy(monkeypatch):
    """An install without a C compiler: auto runs the numpy code, compiled is a ConfigError."""
    monkeypatch.setattr(accel, "_compiled", lambda: None)
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "auto")
    assert accel.kernels() is None
    assert accel.description() == "numpy code, the compiled loops were not built"
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "compiled")
    with pytest.raises(ConfigError, match="EIE_SIM_ACCELERATOR=compiled but the compiled loops "
                                          "were not built .*; allowed: auto or numpy"):
        accel.kernels()


def test_loops_refuse_arrays_of_the_wrong_type():
    """The typed loops check dtype and layout on entry instead of reading foreign memory."""
    from eie_sim import _loops

    col_ptr = np.array([0, 2], dtype=np.int64)
    rows = np.array([0, 1], dtype=np.int64)  # int32 expected
    out = [np.empty((2, 1), np.int32) for _ in range(4)]
    with pytest.raises(ValueError, match="dtype mismatch"):
        _loops.slice_summaries(col_ptr, rows, 2, 1, 1, 4, 1, *out, 0, 1, 0)
    strided = np.empty((2, 2), np.int32)[:, :1]
    with pytest.raises(ValueError, match="contiguous"):
        _loops.slice_summaries(col_ptr, rows.astype(np.int32), 2, 1, 1, 4, 1, strided, *out[1:],
                               0, 1, 0)


def test_unknown_accelerator_is_a_config_error(monkeypatch):
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "gpu")
    with pytest.raises(ConfigError, match="EIE_SIM_ACCELERATOR='gpu' is not allowed; use one"):
        accel.kernels()


def test_cli_reports_unknown_accelerator_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "gpu")
    out = tmp_path / "r.json"
    code = main(["run", "--workload", "alexnet-fc8", "--pes", "64", "--engine", "fast",
                 "--no-progress", "--json", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "EIE_SIM_ACCELERATOR" in err and "auto, compiled, numpy" in err
    assert not out.exists()


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 200), st.integers(1, 60), st.sampled_from([0.05, 0.4, 1.0]),
       st.sampled_from([300, 32767]), st.booleans(), st.integers(0, 2**32 - 1))
def test_threaded_row_ranges_equal_one_thread(n_out, n_in, density, mag, bias, seed):
    """The output and reference kernels split over threads by row ranges (forced with a tiny
    threshold) give the numpy code's bits, saturation included."""
    from eie_sim.engines.eie.fast import _outputs
    from eie_sim.layer import QuantizedLayer
    from eie_sim.reference import reference_forward

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    layer = QuantizedLayer.from_dense("t", w, bias=rng.normal(size=n_out) if bias else None)
    x = (rng.integers(-mag, mag + 1, size=n_in) * (rng.random(n_in) < 0.7)).astype(np.int64)
    cols = np.flatnonzero(x > 0)
    if layer.has_bias:
        cols = np.append(cols, n_in)
    with accel.using("numpy"):
        want = (_outputs(layer, x, cols), reference_forward(layer, x))
    old = accel.PARALLEL_ENTRIES
    accel.PARALLEL_ENTRIES = 1
    try:
        with accel.using("compiled"):
            got = (_outputs(layer, x, cols), reference_forward(layer, x))
    finally:
        accel.PARALLEL_ENTRIES = old
    for g, w_ in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w_)
    np.testing.assert_array_equal(got[0], got[1])


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 120), st.integers(1, 80), st.sampled_from([0.02, 0.3, 1.0]),
       st.integers(1, 9), st.integers(1, 8), st.integers(1, 4), st.sampled_from([2, 3, 8]),
       st.integers(0, 2**32 - 1))
def test_slice_counts_compiled_and_threaded_equal_numpy(n_out, n_in, density, num_pes, regfile,
                                                        bits, entries_per_row, seed):
    """Entries looked up, padding, SRAM rows read and bypasses over the broadcast slices: the
    compiled loop, on one thread and split by PEs between threads (forced with a tiny
    threshold), gives the numpy code's numbers (several passes, padding, rows shared across
    slices and passes, SRAM rows of a width that is not a power of two)."""
    from eie_sim.engines.eie.common import encode_uncached
    from eie_sim.engines.eie.fast import _slice_counts
    from eie_sim.layer import QuantizedLayer

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    w[0, 0] = 1.0  # not all zero
    layer = QuantizedLayer.from_dense("t", w)
    config = EIEConfig(num_pes=num_pes, act_regfile_entries=regfile, relative_index_bits=bits,
                       spmat_sram_width_bits=(4 + bits) * entries_per_row)
    enc = encode_uncached(layer, config)
    columns = np.flatnonzero(rng.random(enc.n_cols) < 0.7)
    if columns.size == 0:
        columns = np.array([0])
    b = columns.size
    ptr_of = (np.arange(enc.passes)[:, None] * enc.n_cols + columns).ravel()
    start = np.take(enc.ptr, ptr_of, axis=1).reshape(num_pes, enc.passes, b)
    e_k = np.take(enc.ptr, ptr_of + 1, axis=1).reshape(num_pes, enc.passes, b) - start
    # issue cycles with some back-to-back slices, some gaps
    gaps = rng.integers(0, 2, size=(enc.passes, num_pes, b))
    last = np.cumsum(np.maximum(e_k.transpose(1, 0, 2), 1) + gaps, axis=2)
    first = last - np.maximum(e_k.transpose(1, 0, 2), 1) + 1
    want = _slice_counts(enc, columns, entries_per_row, start, e_k, first, last)
    assert accel.slice_counts(enc, columns, entries_per_row, first, last) == want
    old = accel.PARALLEL_ENTRIES
    accel.PARALLEL_ENTRIES = 1
    try:
        assert accel.slice_counts(enc, columns, entries_per_row, first, last) == want
    finally:
        accel.PARALLEL_ENTRIES = old


def test_split_work_keeps_the_order_and_raises_a_threads_error():
    """Parts run on this thread and on threads of their own: results come back in the parts'
    order, and an error on any thread is raised on the caller once every part has finished."""
    finished = []

    def kernel(lo, hi):
        if lo == 2:
            raise ValueError("part 2 failed")
        finished.append(lo)
        return lo * 10 + hi

    assert accel._run_parts(kernel, [(0, 1), (1, 2), (3, 4)]) == [1, 12, 34]
    finished.clear()
    with pytest.raises(ValueError, match="part 2 failed"):
        accel._run_parts(kernel, [(0, 1), (2, 3), (3, 4)])
    assert sorted(finished) == [0, 3]


def test_kernel_threads_work_in_a_forked_child():
    """A process forked after the kernels used threads (a sweep's pool worker) gets threads of
    its own instead of waiting forever on the parent's."""
    import multiprocessing

    col_ptr = np.arange(0, 4001, 4, dtype=np.int64)  # 1000 columns of 4 entries
    rows = np.tile(np.array([0, 9, 17, 30], dtype=np.int32), 1000)
    old = accel.PARALLEL_ENTRIES
    accel.PARALLEL_ENTRIES = 1
    try:
        want = accel.slice_summaries(col_ptr, rows, 4, 2, 4, 2)  # threads start here
        with multiprocessing.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(accel.slice_summaries, (col_ptr, rows, 4, 2, 4, 2)).get(60)
    finally:
        accel.PARALLEL_ENTRIES = old
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 40), st.lists(st.lists(st.integers(-3, 45), max_size=8), min_size=1,
                                   max_size=12),
       st.lists(st.integers(0, 255), min_size=0, max_size=120))
def test_entry_checks_compiled_equal_numpy(n_out, columns, weights):
    """The layer's entry checks (row range, weight index range, rows rising within a column)
    give the same bits in compiled code (one thread or several) and in numpy, on sorted,
    unsorted and out-of-range columns."""
    from eie_sim.layer import entry_problems

    rows = np.array([r for col in columns for r in col], dtype=np.int32)
    col_ptr = np.concatenate([[0], np.cumsum([len(c) for c in columns])]).astype(np.int64)
    w = np.resize(np.array(weights or [1], dtype=np.uint8), rows.size)
    with accel.using("numpy"):
        want = entry_problems(col_ptr, rows, w, n_out)
    with accel.using("compiled"):
        assert entry_problems(col_ptr, rows, w, n_out) == want
        old = accel.PARALLEL_ENTRIES
        accel.PARALLEL_ENTRIES = 1  # columns split between threads
        try:
            assert entry_problems(col_ptr, rows, w, n_out) == want
        finally:
            accel.PARALLEL_ENTRIES = old


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=300), st.integers(0, 14),
       st.booleans())
def test_quantize_and_weight_sharing_compiled_equal_numpy(values, frac_bits, threads):
    """Fixed-point rounding (half up, saturating: halves, negatives, the int16 edges) and k-means
    weight sharing's histogram and look-up give the same bits in compiled code (on one thread
    or split between threads) and in numpy (the histogram forced on these few values)."""
    from eie_sim.compress import weight_sharing
    from eie_sim.compress.weight_sharing import kmeans_codebook
    from eie_sim.layer import _quantize_blocks

    edges = [0.5, -0.5, 1.5, -1.5, -2.5, 32766.5, 32767.0, -32768.5, -32767.5, 1e9, -1e9]
    v = np.array(values + [e / (1 << frac_bits) for e in edges], dtype=np.float64)
    old, old_sort = accel.PARALLEL_ENTRIES, weight_sharing._SORT_BELOW
    weight_sharing._SORT_BELOW = 0
    try:
        with accel.using("numpy"):
            want = _quantize_blocks(v, frac_bits)
            want_cb, want_idx = kmeans_codebook(want[want != 0])
        accel.PARALLEL_ENTRIES = 1 if threads else old
        with accel.using("compiled"):
            got = _quantize_blocks(v, frac_bits)
            cb, idx = kmeans_codebook(got[got != 0])
    finally:
        accel.PARALLEL_ENTRIES, weight_sharing._SORT_BELOW = old, old_sort
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(cb, want_cb)
    np.testing.assert_array_equal(idx, want_idx)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([0.05, 0.4, 1.0]),
       st.integers(1, 5), st.integers(0, 15), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_ese_spmv_compiled_and_threaded_equal_numpy(n_rows, n_cols, density, batch, frac_bits,
                                                   num_pes, seed):
    """ESE's SpMV (each product rounded half up, summed exactly): the compiled loop, on one
    thread and split by utterances between threads (forced with a tiny threshold), gives the
    numpy code's bits, for the reference on the CSC matrix and for the fast engine on its per-PE
    entries (12-bit weights and int16 inputs at their extremes, every rounding shift)."""
    from eie_sim.engines.ese.common import encode_phase
    from eie_sim.engines.ese.fast import _spmv
    from eie_sim.workloads.lstm import WEIGHT_MAX, SparseMatrix

    rng = np.random.default_rng(seed)
    q = rng.integers(-WEIGHT_MAX, WEIGHT_MAX + 1, size=(n_rows, n_cols))
    q[rng.random(q.shape) >= density] = 0
    q[0, 0] = rng.choice([-WEIGHT_MAX, WEIGHT_MAX])
    cols, rows = np.nonzero(q.T)
    m = SparseMatrix(name="i", n_rows=n_rows, n_cols=n_cols,
                     col_ptr=np.r_[0, np.cumsum(np.bincount(cols, minlength=n_cols))],
                     row_idx=rows.astype(np.int32), values=q.T[cols, rows].astype(np.int16),
                     frac_bits=frac_bits)
    a = rng.integers(-32768, 32768, size=(n_cols, batch)).astype(np.int16)
    a[0, 0] = rng.choice([-32768, 32767])
    enc = encode_phase(m, num_pes, relative_index_bits=2)
    with accel.using("numpy"):
        want = m.matvec(a)
        engine = _spmv(enc)(a)
    np.testing.assert_array_equal(engine, want)
    exact = sum(((q[:, j, None].astype(object) * a[j].astype(object)) + (1 << frac_bits >> 1))
                >> frac_bits for j in range(n_cols))
    np.testing.assert_array_equal(want, np.array(exact, dtype=np.int64))
    old = accel.PARALLEL_ENTRIES
    try:
        for parallel in (old, 1):
            accel.PARALLEL_ENTRIES = parallel
            with accel.using("compiled"):
                np.testing.assert_array_equal(m.matvec(a), want)
                np.testing.assert_array_equal(_spmv(enc)(a), want)
    finally:
        accel.PARALLEL_ENTRIES = old
