"""The tensor core's operand path (docs/STC_MODEL.md §Operand path): shared-memory bandwidth,
warp-tile reuse, the sparse instruction's doubled B operand and its metadata.

A working tensor core spends ``max(MMA cycles, operand cycles)`` on a stage, the operand
cycles being ``ceil(ks * (fill + fragment reads) / smem_bytes_per_clk)`` of its SM. On the A100
preset this binds the sparse machine only, which brings its compute-bound 2:4 speedup from the
ideal 2x to what real A100s measure (about 1.5-1.7x; ~1.6x at 16384^3), while the
memory-bound GEMV keeps the byte ratio.
"""

from __future__ import annotations

import numpy as np
import pytest

from eie_sim import STCConfig, simulate
from eie_sim.engines.stc import des as stc_des
from eie_sim.engines.stc import fast as stc_fast
from eie_sim.engines.stc.adapter import from_layer, quantize_activations
from eie_sim.engines.stc.common import make_plan, operands, raster_order
from eie_sim.engines.stc.reference import bits_equal, reference_gemm


def speedup_from_plans(config: STCConfig, rows: int, k: int, batch: int) -> float:
    """Dense-twin cycles over 2:4 cycles, timing only (plan + recurrence, no operands)."""
    cycles = {}
    for c in (config, config.dense_twin()):
        cycles[c.arch], *_ = stc_fast.schedule(make_plan(rows, k, batch, c))
    return cycles["dense-tc"] / cycles["stc"]


# --------------------------------------------------------------------------- the gate
def gate_config(smem_bytes_per_clk: int) -> STCConfig:
    """One SM, one tensor core, one 16 x 8 fragment, one dense fp16 k-step: MMA 15 cycles
    (ceil(2048 / 137)); the stage fills 16 x 32 + 8 x 32 = 768 B and the warp reads the same
    768 B, 1536 B of shared-memory traffic."""
    return STCConfig(
        sms=1, tensor_cores_per_sm=1, dense_fma_per_clk_per_sm=137, clock_mhz=1000.0,
        mem_bandwidth_gbps=32.0, block_m=16, block_n=8, k_steps_per_stage=1,
        mma_latency_cycles=5, smem_bytes_per_sm=1 << 20, smem_bytes_per_clk=smem_bytes_per_clk,
    ).dense_twin()


@pytest.mark.parametrize("engine", [stc_des, stc_fast], ids=["des", "fast"])
@pytest.mark.parametrize(
    "smem_bytes_per_clk,stage_cycles",
    [(1 << 20, 15), (103, 15), (96, 16)],  # free; ceil(1536 / 103) = 15 on time; 1536 / 96 = 16
    ids=["wide", "on-time", "one-cycle-late"],
)
def test_the_gate_one_cycle_early_and_on_time(engine, smem_bytes_per_clk: int,
                                              stage_cycles: int) -> None:
    cfg = gate_config(smem_bytes_per_clk)
    assert cfg.mma_cycles == 15
    plan = make_plan(16, 16, 8, cfg)
    assert plan.tile_smem_fill_bytes.tolist() == [768]
    assert plan.tile_smem_read_bytes.tolist() == [768]
    assert plan.operand_cycles(0).tolist() == [-(-1536 // smem_bytes_per_clk)]
    assert plan.load_cycles == [24] and plan.write_cycles == [16]  # 768 B, 512 B at 32 B/cycle
    rng = np.random.default_rng(3)
    layer = from_layer(rng.standard_normal((16, 16)), 2, 4, "fp16")
    xq, _ = quantize_activations(np.abs(rng.standard_normal((16, 8))), "fp16")
    run = engine.run_layer(plan, operands(layer.weights, xq, plan))
    assert bits_equal(run.outputs, reference_gemm(layer.dense(), xq))
    # load, the stage (MMA 15 cycles, or the operand path's 16), drain 5, write 16.
    assert run.cycles == 24 + stage_cycles + 5 + 16
    assert run.unit_busy.tolist() == [15]  # issuing MMAs: always the MMA cycles
    assert run.unit_stall.tolist() == [24 + stage_cycles - 15]  # the load, then the operands
    assert (run.unit_busy + run.unit_stall + run.unit_idle).tolist() == [run.cycles]
    assert run.counts["smem.read_bytes"] == 768 and run.counts["smem.write_bytes"] == 768


def test_the_gate_is_per_stage_and_the_engines_agree() -> None:
    """Several stages and waves, the gate binding on some SMs only: DES == fast exactly."""
    cfg = STCConfig(sms=3, tensor_cores_per_sm=2, dense_fma_per_clk_per_sm=512,
                    mem_bandwidth_gbps=1555.0, block_m=32, block_n=16, batch=40,
                    smem_bytes_per_clk=40, warp_tile_m=16, warp_tile_n=16, raster_swizzle=2)
    rng = np.random.default_rng(5)
    layer = from_layer(rng.standard_normal((72, 200)), 2, 4, "fp16")
    xq, _ = quantize_activations(np.abs(rng.standard_normal((200, 40))), "fp16")
    for c in (cfg, cfg.dense_twin()):
        plan = make_plan(72, 200, 40, c)
        ops = operands(layer.weights, xq, plan)
        d, f = stc_des.run_layer(plan, ops), stc_fast.run_layer(plan, ops)
        assert d.cycles == f.cycles and d.counts == f.counts
        assert d.unit_busy.tolist() == f.unit_busy.tolist()
        assert d.unit_stall.tolist() == f.unit_stall.tolist()
        assert (plan.wave_operand_cycles > 0).any()
        assert plan.operand_path_cycles() > plan.compute_cycles()  # the gate binds


# --------------------------------------------------------------------------- the counter
def test_smem_reads_count_warp_tile_reuse() -> None:
    """``smem.read_bytes``: each warp reads its A rows (+ metadata) and B columns once per
    k-step. With a one-fragment warp tile (16 x 8) that is every MMA's full fragment bytes
    (the old count); 64 x 64 warp tiles read 8x less A and 4x less B per MMA."""
    base = STCConfig.preset("a100", batch=256, sms=4)
    plan16 = make_plan(256, 512, 256, base.replace(warp_tile_m=16, warp_tile_n=8))
    plan64 = make_plan(256, 512, 256, base)
    c16, c64 = stc_fast.counters(plan16), stc_fast.counters(plan64)
    assert c16["smem.read_bytes"] == c16["tc.mma"] * plan16.mma_smem_bytes
    k_steps = int(plan64.stage_ksteps.sum())
    a_bytes, b_bytes = 16 * 2 + 16 * 2 // 8, 32 * 2  # per row / column per k-step (2:4 fp16)
    per_tile = 2 * 128 * a_bytes + 2 * 128 * b_bytes  # 2 x 2 warps of 64 x 64
    assert c64["smem.read_bytes"] == 4 * k_steps * per_tile
    assert c64["smem.write_bytes"] == 4 * k_steps * 128 * (a_bytes + b_bytes)
    assert {k: v for k, v in c16.items() if k != "smem.read_bytes"} == {
        k: v for k, v in c64.items() if k != "smem.read_bytes"}


def test_raster_order_is_cutlass_identity_swizzle() -> None:
    rb, cb = raster_order(3, 5, 2)
    assert list(zip(rb.tolist(), cb.tolist(), strict=True)) == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1),
        (0, 2), (0, 3), (1, 2), (1, 3), (2, 2), (2, 3),
        (0, 4), (1, 4), (2, 4)]
    rb, cb = raster_order(3, 2, 1)  # column blocks outer, row blocks inner
    assert list(zip(rb.tolist(), cb.tolist(), strict=True)) == [
        (0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]


# --------------------------------------------------------------------------- the speedups
def test_a100_compute_bound_speedup_16384_cubed() -> None:
    """Published: ~1.6x (CUTLASS, 16384^3, locked clocks); 1.5-1.7x (cuSPARSELt). Timing only:
    the plans and the recurrence, no operands."""
    cfg = STCConfig.preset("a100", batch=16384)
    for c in (cfg, cfg.dense_twin()):
        plan = make_plan(16384, 16384, 16384, c)
        assert plan.compute_cycles() > 2 * sum(plan.load_cycles)  # compute-bound
    assert 1.5 <= speedup_from_plans(cfg, 16384, 16384, 16384) <= 1.7


def test_a100_compute_bound_speedup_4096_cubed() -> None:
    """alexnet-fc7 (4096 x 4096) at batch 4096 through the facade, timing only: 1.55-1.7x
    (simulated 1.61; 9.5 waves, so the partial last wave and the write-back weigh more than
    at 16384^3)."""
    cfg = STCConfig.preset("a100", batch=4096)
    t = {c.arch: simulate(c, "alexnet-fc7", values=False, energy=None).cycles
         for c in (cfg, cfg.dense_twin())}
    assert 1.55 <= t["dense-tc"] / t["stc"] <= 1.7


@pytest.mark.parametrize("dtype,byte_ratio", [("fp16", 16 / 9), ("int8", 16 / 10)])
def test_a100_batch1_gemv_keeps_the_byte_ratio(dtype: str, byte_ratio: float) -> None:
    cfg = STCConfig.preset("a100", dtype=dtype)
    t = {c.arch: simulate(c, "alexnet-fc7", values=False, energy=None).cycles
         for c in (cfg, cfg.dense_twin())}
    assert t["dense-tc"] / t["stc"] == pytest.approx(byte_ratio, rel=0.05)


def test_the_dense_a100_is_not_operand_bound() -> None:
    """At the dense rate the operand path keeps up (A100: 192 of 256 cycles per k-step);
    at the sparse rate it is the limit (300 cycles per 2:4 k-step against 256 of MMAs)."""
    cfg = STCConfig.preset("a100", batch=4096)
    dense = make_plan(4096, 4096, 4096, cfg.dense_twin())
    sparse = make_plan(4096, 4096, 4096, cfg)
    assert dense.operand_cycles(0).max() == 2 * 192 < 2 * 256
    assert sparse.operand_cycles(0).max() == 2 * 300 > 2 * 256
