"""Differential tests: the SimPy tensor-core engine and the fast engine agree exactly, and both
equal the reference functional model bit for bit.

Compared on every run: ``cycles``, the per-wave cycles, every counter (dict equality), the
per-tensor-core busy / stall / idle arrays and the raw output bits (float32 or int32); both
outputs must equal :func:`eie_sim.engines.stc.reference.reference_gemm`. Cases come from
Hypothesis (derandomized, so CI is reproducible): small shapes, batch 1..64, patterns 2:4,
1:4, 2:8 and 4:8, fp16 and int8, sparse and dense twin, DRAM- and SRAM-resident weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eie_sim.engines.stc import COUNTERS, STCConfig, STCLayerRun, from_layer, make_plan
from eie_sim.engines.stc import des as stc_des
from eie_sim.engines.stc import fast as stc_fast
from eie_sim.engines.stc.adapter import quantize_activations
from eie_sim.engines.stc.common import operands
from eie_sim.engines.stc.reference import bits_equal, reference_gemm


def run_both(w: np.ndarray, x: np.ndarray, config: STCConfig):
    layer = from_layer(w, config.n, config.m, config.dtype)
    xq, _ = quantize_activations(x, config.dtype)
    plan = make_plan(layer.n_out, layer.n_in, x.shape[1], config)
    ops = operands(layer.weights, xq, plan)
    return (
        stc_des.run_layer(plan, ops),
        stc_fast.run_layer(plan, ops),
        reference_gemm(layer.dense(), xq),
        plan,
    )


def assert_equivalent(d: STCLayerRun, f: STCLayerRun, expected: np.ndarray, n_tc: int) -> None:
    assert set(d.counts) == set(f.counts) == set(COUNTERS)
    assert d.counts == f.counts
    assert d.cycles == f.cycles
    assert d.wave_cycles == f.wave_cycles
    assert sum(d.wave_cycles) == d.cycles
    for name in ("tc_busy", "tc_stall", "tc_idle"):
        np.testing.assert_array_equal(getattr(d, name), getattr(f, name), err_msg=name)
    for r in (d, f):
        assert r.tc_busy.shape == (n_tc,)
        assert np.all(r.tc_idle >= 0) and np.all(r.tc_stall >= 0)
        np.testing.assert_array_equal(r.tc_busy + r.tc_stall + r.tc_idle, np.full(n_tc, r.cycles))
    assert bits_equal(d.outputs, expected), "SimPy outputs differ from the reference"
    assert bits_equal(f.outputs, expected), "fast outputs differ from the reference"


@st.composite
def cases(draw):
    n, m = draw(st.sampled_from([(2, 4), (1, 4), (2, 8), (4, 8)]))
    tcs = draw(st.integers(1, 4))
    fma_per_tc = draw(st.sampled_from([16, 100, 256, 512, 4096]))
    config = STCConfig(
        sms=draw(st.integers(1, 3)),
        tensor_cores_per_sm=tcs,
        dense_fma_per_clk_per_sm=fma_per_tc * tcs,
        clock_mhz=draw(st.sampled_from([800.0, 1410.0])),
        mem_bandwidth_gbps=draw(st.sampled_from([0.7, 25.6, 1555.0])),
        pattern=f"{n}:{m}",
        dtype=draw(st.sampled_from(["fp16", "int8"])),
        block_m=draw(st.sampled_from([16, 32, 48])),
        block_n=draw(st.sampled_from([8, 16, 24])),
        k_steps_per_stage=draw(st.integers(1, 3)),
        buffer_stages=draw(st.integers(1, 3)),
        mma_latency_cycles=draw(st.sampled_from([0, 3, 32])),
        smem_bytes_per_sm=1 << 24,
        weights_from=draw(st.sampled_from(["dram", "dram", "sram"])),
        weight_sram_bytes=1 << 24,
        weight_sram_bytes_per_clk=draw(st.sampled_from([7, 512])),
    )
    if draw(st.booleans()):
        config = config.dense_twin()
    rows = draw(st.integers(1, 70))
    k = draw(st.integers(1, 150))
    batch = draw(st.sampled_from([1, 1, 2, 7, 8, 9, 17, 64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Magnitudes over several octaves so that float32 rounding order matters.
    w = rng.standard_normal((rows, k)) * np.exp2(rng.integers(-6, 7, size=(rows, k)))
    w[rng.random((rows, k)) < draw(st.sampled_from([0.0, 0.5, 0.95]))] = 0.0
    x = rng.standard_normal((k, batch)) * np.exp2(rng.integers(-6, 7, size=(k, batch)))
    x[rng.random((k, batch)) < draw(st.sampled_from([0.0, 0.6]))] = 0.0
    if draw(st.booleans()):
        x = np.maximum(x, 0.0)
    return w, x, config


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_des_equals_fast_equals_reference(case) -> None:
    w, x, config = case
    d, f, expected, _ = run_both(w, x, config)
    assert_equivalent(d, f, expected, config.tensor_cores)


@pytest.mark.parametrize("dtype", ["fp16", "int8"])
@pytest.mark.parametrize("preset", ["a100", "iso-eie"])
def test_presets_des_equals_fast(preset: str, dtype: str) -> None:
    """Preset machines (several waves on iso-eie, unused SMs on the A100)."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((300, 256))
    x = np.abs(rng.standard_normal((256, 24)))
    cfg = STCConfig.preset(preset, dtype=dtype, batch=24)
    for c in (cfg, cfg.dense_twin()):
        d, f, expected, plan = run_both(w, x, c)
        assert plan.waves == (3 if preset == "iso-eie" else 1)
        assert_equivalent(d, f, expected, c.tensor_cores)


@pytest.mark.slow
def test_alexnet_fc7_gemv_des_equals_fast() -> None:
    from eie_sim.engines.stc import run

    cfg = STCConfig.preset("a100")
    for c in (cfg, cfg.dense_twin()):
        d = run(c, "alexnet-fc7", engine="des")
        f = run(c, "alexnet-fc7", engine="fast")
        assert d.layers[0].cycles == f.layers[0].cycles
        assert d.layers[0].counts == f.layers[0].counts
        assert d.layers[0].outputs_match_reference and f.layers[0].outputs_match_reference
        assert d.info["stc"]["layers"][0]["outputs_sha256"] == (
            f.info["stc"]["layers"][0]["outputs_sha256"]
        )


def test_reference_is_sequential_float32() -> None:
    """Guard of the stated accumulation rule: ascending K, one float32 rounding per product."""
    w = np.array([[1.0, 2.0**-24, 2.0**-24]], dtype=np.float16)
    x = np.ones((3, 1), dtype=np.float16)
    # 1 + 2^-24 rounds back to 1 in float32, twice; a pairwise or wider sum would not.
    assert reference_gemm(w, x)[0, 0] == np.float32(1.0)
    wi = np.full((1, 4), 127, dtype=np.int8)
    assert reference_gemm(wi, np.full((4, 1), -128, dtype=np.int8))[0, 0] == -4 * 127 * 128
