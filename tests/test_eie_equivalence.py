"""Differential tests: the SimPy engine and the vectorised engine agree exactly, and both
equal the reference functional model bit for bit.

Compared on every run: ``cycles``, ``segment_cycles``, every counter (dict equality), the per-PE
busy / stall / idle arrays and the output vector; both output vectors must equal
:func:`eie_sim.reference.reference_forward`. Layers come from Hypothesis (derandomized, so CI
is reproducible) and from the paper's Table III.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import BOOLEANS, DENSITIES, choice, ints

from eie_sim import accel
from eie_sim.config import EIEConfig
from eie_sim.engines.eie import common
from eie_sim.engines.eie import des as eie_des
from eie_sim.engines.eie import fast as eie_fast
from eie_sim.engines.eie.common import COUNTERS, prepare
from eie_sim.engines.record import LayerRun
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN, round_shift
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward
from eie_sim.simulate import simulate
from eie_sim.workloads import get_workload
from eie_sim.workloads.paper import TABLE_III

ONE = 256  # 1.0 in Q7.8
MAX_ELEMENTS = 20000  # rows x columns of a generated layer (keeps the DES fast)
MAX_PASSES = 6


def fresh(wl):
    """``wl`` with new layer objects (same arrays), so nothing cached with a layer is reused."""
    return dataclasses.replace(wl, layers=tuple(dataclasses.replace(la) for la in wl.layers))


@dataclass
class Case:
    layer: QuantizedLayer
    x: np.ndarray
    config: EIEConfig


# --------------------------------------------------------------------------- helpers
def run_both(layer: QuantizedLayer, x: np.ndarray, config: EIEConfig
             ) -> tuple[LayerRun, LayerRun, np.ndarray]:
    """DES and fast runs; the fast engine's numpy code must equal its compiled loops exactly,
    so the returned fast run stands for both."""
    with accel.using("numpy"):
        enc = prepare(layer, config)
        f_numpy = eie_fast.run_layer(layer, x, config, enc)
    d = eie_des.run_layer(layer, x, config, enc)
    with accel.using("compiled"):
        f = eie_fast.run_layer(layer, x, config, common.encode_uncached(layer, config))
    assert_same_run(f, f_numpy)
    return d, f, reference_forward(layer, x, input_relu=config.input_relu)


def assert_same_run(a: LayerRun, b: LayerRun) -> None:
    assert (a.cycles, a.segment_cycles, a.counts) == (b.cycles, b.segment_cycles, b.counts)
    for name in ("unit_busy", "unit_stall", "unit_idle", "outputs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype


def assert_equivalent(d: LayerRun, f: LayerRun, expected: np.ndarray, num_pes: int) -> None:
    assert set(d.counts) == set(f.counts) == set(COUNTERS)
    assert d.counts == f.counts
    np.testing.assert_array_equal(d.unit_busy, f.unit_busy)
    np.testing.assert_array_equal(d.unit_stall, f.unit_stall)
    assert d.outputs.dtype == f.outputs.dtype == np.int16
    np.testing.assert_array_equal(d.outputs, expected)
    np.testing.assert_array_equal(f.outputs, expected)
    for r in (d, f):
        assert r.unit_busy.shape == r.unit_stall.shape == r.unit_idle.shape == (num_pes,)
        np.testing.assert_array_equal(r.unit_busy + r.unit_stall + r.unit_idle,
                                      np.full(num_pes, r.cycles))
    assert d.cycles == f.cycles
    assert d.segment_cycles == f.segment_cycles
    np.testing.assert_array_equal(d.unit_idle, f.unit_idle)


def unsaturated_forward(layer: QuantizedLayer, x: np.ndarray, input_relu: bool) -> np.ndarray:
    """The reference without saturation (int64 accumulators)."""
    x = x.astype(np.int64)
    acc = np.zeros(layer.n_out, dtype=np.int64)
    w = layer.codebook.astype(np.int64)[layer.weight_idx]
    for j in np.flatnonzero(broadcast_mask(x, input_relu)):
        s, e = layer.col_ptr[j], layer.col_ptr[j + 1]
        acc[layer.row_idx[s:e]] += round_shift(w[s:e] * x[j], layer.weight_frac_bits)
    if layer.has_bias:
        rows = np.flatnonzero(layer.bias_idx)
        b = layer.bias_codebook.astype(np.int64)[layer.bias_idx[rows]]
        acc[rows] += round_shift(b * layer.bias_activation(), layer.weight_frac_bits)
    return acc


# --------------------------------------------------------------------------- strategy
@st.composite
def cases(draw) -> Case:
    n_in = draw(ints(1, 200))
    n_out = draw(ints(1, min(200, MAX_ELEMENTS // n_in)))
    num_pes = draw(choice(1, 2, 3, 4, 5, 7, 8, 13, 16, 64))
    depth = draw(ints(1, 16))
    model = "counter" if depth == 1 else draw(choice("circular", "counter"))
    rows_pe0 = -(-n_out // num_pes)
    regfile = draw(ints(max(1, -(-rows_pe0 // MAX_PASSES)), 64))
    z_bits = draw(ints(1, 4))
    entries_per_row = draw(ints(2, 16))
    config = EIEConfig(
        num_pes=num_pes, act_queue_depth=depth, act_queue_model=model,
        act_regfile_entries=regfile, relative_index_bits=z_bits,
        spmat_sram_width_bits=(4 + z_bits) * entries_per_row,
        input_relu=draw(BOOLEANS), batch_swap_cycles=draw(ints(0, 3)),
        sram_capacity="unbounded",
        # One example in four streams the weights from DRAM (0.5 to 32 bytes per cycle).
        weights_from=draw(choice("sram", "sram", "sram", "dram")),
        dram_bandwidth_gbps=draw(choice(0.4, 3.2, 25.6)),
    )
    w_density = draw(DENSITIES)
    empty_cols = draw(choice(0.0, 0.0, 0.3, 0.9))
    w_scale = draw(choice(0.05, 1.0, 1.0, 80.0))
    a_density = draw(DENSITIES)
    a_negative = draw(choice(0.0, 0.3, 0.7))
    a_max = draw(choice(ONE, 8 * ONE, INT16_MAX))
    with_bias = draw(BOOLEANS)
    rng = np.random.default_rng(draw(ints(0, 2**32 - 1)))

    w = rng.laplace(scale=w_scale, size=(n_out, n_in))
    w[rng.random((n_out, n_in)) >= w_density] = 0.0
    w[:, rng.random(n_in) < empty_cols] = 0.0
    bias = None
    if with_bias:
        bias = rng.normal(scale=draw(choice(0.5, 200.0)), size=n_out)
        bias[rng.random(n_out) < 0.3] = 0.0
    layer = QuantizedLayer.from_dense("hyp", w, bias)

    mags = rng.integers(1, a_max + 1, size=n_in)
    signs = np.where(rng.random(n_in) < a_negative, -1, 1)
    x = (mags * signs * (rng.random(n_in) < a_density)).astype(np.int16)
    return Case(layer, x, config)


def features(case: Case, d: LayerRun) -> set[str]:
    """What a generated example exercises (to check the examples cover every path)."""
    layer, x, config = case.layer, case.x, case.config
    out = set()
    if np.any(np.abs(unsaturated_forward(layer, x, config.input_relu)) > INT16_MAX):
        out.add("saturation")
    if len(d.segment_cycles) > 1:
        out.add("passes")
        if config.batch_swap_cycles:
            out.add("passes+swap")
    if layer.n_in > config.num_pes * config.act_regfile_entries and config.batch_swap_cycles:
        out.add("input batches+swap")
    for name in ("pe.arith.padding", "ccu.stall", "pe.arith.bypass"):
        if d.counts[name]:
            out.add(name)
    if not broadcast_mask(x, config.input_relu).any():
        out.add("no broadcast")
    if np.any(x < 0):
        out.add("negative relu" if config.input_relu else "negative no-relu")
    nonempty_cols = np.diff(layer.col_ptr) > 0
    if np.any(broadcast_mask(x, config.input_relu) & ~nonempty_cols):
        out.add("empty column broadcast")
    if layer.nnz == 0:
        out.add("no weights")
    if layer.nnz == layer.n_in * layer.n_out:
        out.add("dense weights")
    if config.num_pes == 1:
        out.add("1 PE")
    if layer.n_out % config.num_pes:
        out.add("rows not divisible")
    if config.act_queue_depth == 1:
        out.add("depth 1")
    if layer.has_bias:
        out.add("bias")
    if config.weights_from == "dram" and d.counts["dram.read_bytes"]:
        out.add("dram")
    return out


REQUIRED = {
    "saturation", "passes", "passes+swap", "input batches+swap", "pe.arith.padding",
    "ccu.stall", "pe.arith.bypass", "no broadcast", "negative relu", "negative no-relu",
    "empty column broadcast", "no weights", "dense weights", "1 PE", "rows not divisible",
    "depth 1", "bias", "dram",
}


# --------------------------------------------------------------------------- property
#: Generated layers run on both engines (every REQUIRED feature is reached well before; the
#: common suite runs 300 more EIE cases, tests/test_common_checks.py).
GENERATED_EXAMPLES = 400


def test_des_equals_fast_equals_reference_on_generated_layers():
    seen: Counter[str] = Counter()

    @settings(max_examples=GENERATED_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(cases())
    def check(case: Case) -> None:
        d, f, expected = run_both(case.layer, case.x, case.config)
        assert_equivalent(d, f, expected, case.config.num_pes)
        seen.update(features(case, d))

    check()
    missing = REQUIRED - set(seen)
    assert not missing, f"generated examples never exercised {sorted(missing)}: {dict(seen)}"


# --------------------------------------------------------------------------- deterministic
def test_saturating_accumulation_is_order_dependent_and_engines_agree():
    # Row 0 gets +117, +117, -117 (in units of 1.0): with a saturating 16-bit accumulator the
    # sum is 32767 - 29952 = 2815, not 29952. The other rows are random with big magnitudes.
    rng = np.random.default_rng(7)
    n_out, n_in = 24, 40
    w = rng.choice([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0], size=(n_out, n_in))
    w[0, :] = 0.0
    w[0, :3] = [1.0, 1.0, -1.0]
    x = rng.integers(0, 117 * ONE, size=n_in).astype(np.int16)
    x[:3] = 117 * ONE
    layer = QuantizedLayer.from_dense("sat", w, bias=np.full(n_out, 3.0))
    for num_pes in (1, 3, 8):
        config = EIEConfig(num_pes=num_pes, act_queue_depth=3, act_regfile_entries=4,
                           sram_capacity="unbounded")
        d, f, expected = run_both(layer, x, config)
        assert_equivalent(d, f, expected, num_pes)
        wide = unsaturated_forward(layer, x, config.input_relu)
        clipped_at_end = np.clip(wide, INT16_MIN, INT16_MAX)
        assert (wide > INT16_MAX).any() and (wide < INT16_MIN).any()
        assert np.sum(clipped_at_end != expected) >= 2  # order matters on several rows
        assert expected[0] == INT16_MAX - 117 * ONE + 3 * ONE


def test_all_zero_input_with_many_groups_agrees():
    # No broadcast at all, the scan (1 cycle per group) outlasts the drain: full comparison.
    rng = np.random.default_rng(3)
    w = rng.normal(size=(30, 50))
    layer = QuantizedLayer.from_dense("z", w)
    for num_pes in (1, 4, 7):
        config = EIEConfig(num_pes=num_pes, act_regfile_entries=2, batch_swap_cycles=1,
                           sram_capacity="unbounded")
        x = np.zeros(50, dtype=np.int16)
        d, f, expected = run_both(layer, x, config)
        assert_equivalent(d, f, expected, num_pes)
        assert d.counts["ccu.broadcast"] == 0
        np.testing.assert_array_equal(expected, np.zeros(30, np.int16))


def test_all_zero_short_input_agrees():
    layer = QuantizedLayer.from_dense("z", np.ones((4, 8)))
    config = EIEConfig(num_pes=4, sram_capacity="unbounded")
    d, f, expected = run_both(layer, np.zeros(8, dtype=np.int16), config)
    assert_equivalent(d, f, expected, 4)


@pytest.mark.parametrize("num_pes", [1, 2, 5, 64])
@pytest.mark.parametrize("depth,model", [(1, "counter"), (2, "circular"), (8, "circular"),
                                         (16, "counter")])
def test_sparse_random_layer_across_queue_models(num_pes, depth, model):
    # A fixed mid-size layer with imbalance (column densities vary 20x) across queue models.
    rng = np.random.default_rng(2016 + num_pes * 31 + depth)
    n_out, n_in = 150, 120
    col_density = rng.uniform(0.02, 0.4, size=n_in)
    w = rng.normal(size=(n_out, n_in)) * (rng.random((n_out, n_in)) < col_density)
    x = (rng.integers(-3 * ONE, 3 * ONE, size=n_in) * (rng.random(n_in) < 0.5)).astype(np.int16)
    layer = QuantizedLayer.from_dense("r", w, bias=rng.normal(size=n_out))
    config = EIEConfig(num_pes=num_pes, act_queue_depth=depth, act_queue_model=model,
                       act_regfile_entries=16, relative_index_bits=2,
                       spmat_sram_width_bits=48, sram_capacity="unbounded")
    d, f, expected = run_both(layer, x, config)
    assert_equivalent(d, f, expected, num_pes)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("num_pes,passes_rows,bits,width,density",
                         [(4, 4, 2, 48, 0.8), (8, 64, 4, 64, 0.15)])
def test_every_column_broadcast_agrees(bias, num_pes, passes_rows, bits, width, density):
    """Every input positive (dense activations, as in an LLM layer): the fast engine reads the
    summaries of all columns directly, without gathering the broadcast ones."""
    rng = np.random.default_rng(7 + num_pes)
    n_out, n_in = 97, 40
    w = rng.normal(size=(n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    x = rng.integers(1, 3 * ONE, size=n_in).astype(np.int16)
    layer = QuantizedLayer.from_dense("d", w, bias=rng.normal(size=n_out) if bias else None)
    config = EIEConfig(num_pes=num_pes, act_regfile_entries=passes_rows,
                       relative_index_bits=bits, spmat_sram_width_bits=width,
                       sram_capacity="unbounded")
    d, f, expected = run_both(layer, x, config)
    assert_equivalent(d, f, expected, num_pes)
    assert f.counts["ccu.broadcast"] == prepare(layer, config).passes * (n_in + bias)
    assert f.counts["pe.arith.bypass"] > 0  # the sparse bypass look-up found some


# --------------------------------------------------------------------------- paper layers
def simulate_all_engines(config: EIEConfig, wl):
    """The DES result, after checking that the fast engine (compiled loops and its numpy
    code) gives the same result."""
    des_run = simulate(config, wl, engine="des")
    with accel.using("compiled"):
        compare_results(des_run, simulate(config, fresh(wl), engine="fast"))
    with accel.using("numpy"):
        compare_results(des_run, simulate(config, wl, engine="fast"))
    return des_run


def compare_results(des_run, fast_run) -> None:
    assert len(des_run.layers) == len(fast_run.layers)
    for d, f in zip(des_run.layers, fast_run.layers, strict=True):
        assert d.cycles == f.cycles
        assert d.segment_cycles == f.segment_cycles
        assert d.counts == f.counts
        np.testing.assert_array_equal(d.unit_busy_cycles, f.unit_busy_cycles)
        np.testing.assert_array_equal(d.unit_stall_cycles, f.unit_stall_cycles)
        np.testing.assert_array_equal(d.unit_idle_cycles, f.unit_idle_cycles)
        np.testing.assert_array_equal(d.outputs, f.outputs)
        assert d.outputs_match_reference and f.outputs_match_reference


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in TABLE_III if not n.startswith("alexnet")])
def test_table_iii_layer_des_equals_fast(name):
    """Each Table III layer on its own inputs (the AlexNet layers run chained below)."""
    wl = get_workload(name)
    config = EIEConfig(num_pes=64)
    des_run = simulate_all_engines(config, wl)
    layer, x = wl.layers[0], wl.inputs
    np.testing.assert_array_equal(des_run.layers[0].outputs,
                                  reference_forward(layer, x, input_relu=config.input_relu))
    assert des_run.layers[0].counts["ccu.broadcast"] > 0


@pytest.mark.slow
def test_chained_alexnet_des_equals_fast():
    wl = get_workload("alexnet")
    config = EIEConfig(num_pes=64)
    des_run = simulate_all_engines(config, wl)
    # Each layer's input is the previous layer's simulated output.
    x = wl.inputs
    for layer, res in zip(wl.layers, des_run.layers, strict=True):
        expected = reference_forward(layer, x, input_relu=config.input_relu)
        np.testing.assert_array_equal(res.outputs, expected)
        x = res.outputs
    assert len(des_run.layers) == 3
