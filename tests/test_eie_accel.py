"""The optional numba kernels (eie_sim.accel) against the numpy code.

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
from eie_sim.engines.pe_array.recurrence import broadcast_recurrence_numpy
from eie_sim.engines.pe_array.timing import PUSH_TO_ISSUE
from eie_sim.errors import ConfigError

pytest.importorskip("numba")


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
def test_numba_recurrence_equals_numpy(case):
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


def test_dispatch_follows_the_environment(monkeypatch):
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "numpy")
    assert accel.kernels(work=10**12) is None
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "numba")
    assert accel.kernels() is not None
    with accel.using("numpy"):
        assert accel.kernels() is None
    assert accel.kernels() is not None


def test_auto_loads_numba_once_it_pays(monkeypatch):
    """auto: numpy while this process's numpy work is below the break-even and numba is not
    imported; the kernels from the call that crosses it (or once numba is imported)."""
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "auto")
    monkeypatch.setattr(accel, "_numpy_entries", 0)
    monkeypatch.delitem(__import__("sys").modules, "numba", raising=False)
    accel._compiled.cache_clear()
    half = accel.BREAK_EVEN_ENTRIES // 2
    assert accel.kernels(work=half) is None
    assert accel._numpy_entries == half
    assert accel.kernels(work=half - 1) is None
    assert accel.kernels(work=1) is not None  # the call that reaches the break-even
    assert accel.kernels(work=0) is not None  # numba is imported now


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
    assert err.count("\n") == 0 and "EIE_SIM_ACCELERATOR" in err and "auto, numba, numpy" in err
    assert not out.exists()


def test_expect_loads_the_kernels_for_a_large_run(monkeypatch):
    monkeypatch.setenv(accel.ACCELERATOR_ENV, "auto")
    monkeypatch.setattr(accel, "_numpy_entries", 0)
    monkeypatch.delitem(__import__("sys").modules, "numba", raising=False)
    accel._compiled.cache_clear()
    accel.expect(accel.BREAK_EVEN_ENTRIES - 1)
    assert accel.kernels() is None
    accel.expect(accel.BREAK_EVEN_ENTRIES)
    assert accel.kernels() is not None


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
        with accel.using("numba"):
            got = (_outputs(layer, x, cols), reference_forward(layer, x))
    finally:
        accel.PARALLEL_ENTRIES = old
    for g, w_ in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w_)
    np.testing.assert_array_equal(got[0], got[1])


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
