"""Tensor-core engines: what only the tensor core needs beyond the common suite.

``tests/test_common_checks.py`` runs the generic properties on generated layers for ``stc`` and
``dense-tc`` like for every registered accelerator: the SimPy and fast engines agree exactly
(cycles, per-wave cycles, per-tensor-core busy / stall / idle, every counter, the raw output
bits) and equal the reference functional model
(:func:`eie_sim.engines.stc.reference.reference_gemm`) bit for bit, with patterns 2:4, 1:4,
2:8, 4:8, fp16 and int8, DRAM- and SRAM-resident weights, with and without a bias. Here: the
preset machines, the full-size AlexNet GEMV, the accumulation rule of the reference, the bias
epilogue, and the regression cases of fixed mismatches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from eie_sim import registry, simulate
from eie_sim.accelerator import RunOptions, same_bits
from eie_sim.config import STCConfig
from eie_sim.engines.stc.common import ACC_BYTES, transfer_cycles
from eie_sim.engines.stc.reference import add_bias, reference_gemm
from eie_sim.formats.fixed_point import quantize
from eie_sim.layer import QuantizedLayer


def assert_engines_agree(config: STCConfig, layer: QuantizedLayer, x: np.ndarray):
    """Both engines through the facade: the same result in every field but the engine's name,
    and both outputs equal to the reference."""
    d = simulate(config, layer, inputs=x, engine="des")
    f = simulate(config, layer, inputs=x, engine="fast")
    assert d.outputs_match_reference is True and f.outputs_match_reference is True
    dd, ff = d.to_dict(), f.to_dict()
    assert (dd.pop("engine"), ff.pop("engine")) == ("des", "fast")
    assert dd == ff
    return d, f


@pytest.mark.parametrize("dtype", ["fp16", "int8"])
@pytest.mark.parametrize("preset", ["a100", "iso-eie"])
def test_presets_des_equals_fast(preset: str, dtype: str) -> None:
    """Preset machines (several waves on iso-eie, unused SMs on the A100)."""
    rng = np.random.default_rng(7)
    layer = QuantizedLayer.from_dense("p", rng.standard_normal((300, 256)))
    x = quantize(np.abs(rng.standard_normal((256, 24))), 8)
    cfg = STCConfig.preset(preset, dtype=dtype, batch=24)
    for c in (cfg, cfg.dense_twin()):
        d, _ = assert_engines_agree(c, layer, x)
        waves = 3 if preset == "iso-eie" else 1
        assert d.layers[0].details["waves"] == len(d.layers[0].segment_cycles) == waves
        assert d.layers[0].unit_busy_cycles.shape == (c.tensor_cores,)


@pytest.mark.slow
def test_alexnet_fc7_gemv_des_equals_fast() -> None:
    cfg = STCConfig.preset("a100")
    for c in (cfg, cfg.dense_twin()):
        d = simulate(c, "alexnet-fc7", engine="des")
        f = simulate(c, "alexnet-fc7", engine="fast")
        assert d.layers[0].cycles == f.layers[0].cycles
        assert d.layers[0].counts == f.layers[0].counts
        assert d.layers[0].outputs_match_reference and f.layers[0].outputs_match_reference
        assert d.layers[0].details["raw_outputs_sha256"] == (
            f.layers[0].details["raw_outputs_sha256"]
        )


def test_reference_is_sequential_float32() -> None:
    """Guard of the stated accumulation rule: ascending K, one float32 rounding per product."""
    w = np.array([[1.0, 2.0**-24, 2.0**-24]], dtype=np.float16)
    x = np.ones((3, 1), dtype=np.float16)
    # 1 + 2^-24 rounds back to 1 in float32, twice; a pairwise or wider sum would not.
    assert reference_gemm(w, x)[0, 0] == np.float32(1.0)
    wi = np.full((1, 4), 127, dtype=np.int8)
    assert reference_gemm(wi, np.full((4, 1), -128, dtype=np.int8))[0, 0] == -4 * 127 * 128


# --------------------------------------------------------------------------- regressions
def test_each_wave_drains_on_its_own() -> None:
    """Regression: the DES write-back drained waves one after another, so a wave's drain
    waited for the previous wave's (des 74 cycles, fast 50). Smallest case: a 1 x 1 layer on
    one SM with batch 9 in blocks of 8 columns (two waves)."""
    layer = QuantizedLayer.from_dense("one", np.array([[0.5]]))
    x = np.array([256], dtype=np.int16)
    # The operand path out of the way (wide shared memory), as when the regression was found.
    cfg = STCConfig(sms=1, block_n=8, batch=9, smem_bytes_per_clk=1 << 20)
    d, f = assert_engines_agree(cfg, layer, x)
    assert d.layers[0].details["waves"] == 2
    assert d.cycles == f.cycles == 50


# --------------------------------------------------------------------------- the bias
@pytest.mark.parametrize("twin", [False, True], ids=["stc", "dense-tc"])
@pytest.mark.parametrize("dtype", ["fp16", "int8"])
def test_the_bias_is_added_once_in_the_epilogue(dtype: str, twin: bool) -> None:
    """Outputs with a bias = the bias-free GEMM + the bias in the accumulator type (one float32
    rounding, or a wrapping int32 add in units of weight_scale x act_scale), as
    ``reference.add_bias`` states; the write-back also moves each tile's bias rows, 4 bytes
    each, which the counters and the write-back time include."""
    rng = np.random.default_rng(11)
    rows, k, batch = 40, 72, 12
    with_bias = QuantizedLayer.from_dense("b", rng.standard_normal((rows, k)),
                                          rng.normal(scale=2.0, size=rows))
    assert np.count_nonzero(with_bias.bias_values()) > rows // 2
    without = dataclasses.replace(with_bias, bias_idx=None, bias_codebook=None)
    x = quantize(np.abs(rng.standard_normal((k, batch))), 8)
    cfg = STCConfig(sms=2, tensor_cores_per_sm=2, dense_fma_per_clk_per_sm=512,
                    mem_bandwidth_gbps=100.0, block_m=16, block_n=8, batch=batch, dtype=dtype,
                    smem_bytes_per_sm=1 << 20, raster_swizzle=1)
    if twin:
        cfg = cfg.dense_twin()
    model = registry.get(cfg.arch).implementation()
    epilogue = ("dram.bias_read_bytes", "epilogue.bias_add")
    for engine in ("des", "fast"):
        pb = model.prepare(with_bias, x, cfg, RunOptions())
        p0 = model.prepare(without, x, cfg, RunOptions())
        rb, r0 = model.ENGINES[engine](pb, cfg, None), model.ENGINES[engine](p0, cfg, None)
        state = pb.state
        real = with_bias.bias_values() / 2.0**with_bias.act_frac_bits
        if dtype == "fp16":
            expected_bias = real.astype(np.float32)
        else:
            scale = state.layer.weight_scale * state.act_scale
            expected_bias = np.rint(real / scale).astype(np.int32)
        assert state.bias.dtype == expected_bias.dtype
        np.testing.assert_array_equal(state.bias, expected_bias)
        assert p0.state.bias is None
        assert same_bits(rb.outputs, add_bias(r0.outputs, state.bias)), engine
        assert same_bits(rb.outputs, model.reference(pb, cfg))
        assert not same_bits(rb.outputs, r0.outputs)
        # Tiles: rows 16, 16, 8 x columns 8, 4; two SMs: waves (t0, t1), (t2, t3), (t4, t5).
        outputs_per_wave, bias_rows_per_wave = [256, 128, 96], [32, 24, 24]
        assert rb.counts["dram.bias_read_bytes"] == ACC_BYTES * rows * 2 == ACC_BYTES * sum(
            bias_rows_per_wave)
        assert rb.counts["epilogue.bias_add"] == rows * batch
        assert rb.counts["dram.write_bytes"] == r0.counts["dram.write_bytes"] == (
            ACC_BYTES * rows * batch)
        assert all(r0.counts[c] == 0 for c in epilogue)
        assert {c: v for c, v in rb.counts.items() if c not in epilogue} == {
            c: v for c, v in r0.counts.items() if c not in epilogue}
        expected_writes = [transfer_cycles(ACC_BYTES * (o + b), cfg)
                           for o, b in zip(outputs_per_wave, bias_rows_per_wave, strict=True)]
        assert state.plan.write_cycles == expected_writes
        assert pb.details["writeback_cycles"] == sum(expected_writes) > (
            p0.details["writeback_cycles"])
        assert rb.cycles >= r0.cycles
    result = simulate(cfg, with_bias, inputs=x).layers[0]
    assert result.outputs_match_reference
    reads = sum(v for c, v in result.counts.items() if c.startswith("dram.") and "read" in c)
    assert result.traffic_bytes["dram"]["read"] == reads
    assert result.counts["dram.bias_read_bytes"] == ACC_BYTES * rows * 2
