"""Machines named and priced in their own technology; timing-only runs of the tensor cores."""

from __future__ import annotations

import pytest

from eie_sim import DenseConfig, EIEConfig, STCConfig, simulate
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.workloads import get_workload


@pytest.fixture(scope="module")
def fc7():
    return get_workload("alexnet-fc7")


@pytest.mark.parametrize("config, table, label", [
    (EIEConfig(), "45nm", "EIE 64 PE, 45 nm, 800 MHz"),
    (DenseConfig(), "45nm", "dense PE array 64 PE, 45 nm, 800 MHz"),
    (STCConfig.preset("a100"), "gpu-7nm", "A100 2:4 fp16, 7 nm, 1410 MHz, batch 1"),
    (STCConfig.preset("a100").dense_twin(), "gpu-7nm", "A100 dense fp16, 7 nm, 1410 MHz"),
    (STCConfig.preset("h100"), "gpu-7nm", "H100 2:4 fp16, 4 nm, 1830 MHz"),
    (STCConfig.preset("iso-eie"), "45nm", "iso-EIE tensor core 2:4 fp16, 45 nm, 800 MHz"),
])
def test_each_machine_is_named_and_priced_with_its_own_table(config, table, label):
    result = simulate(config, "alexnet-fc8")
    assert result.machine.startswith(label)
    assert result.energy.table == table
    assert all(layer.energy.table == table for layer in result.layers)
    assert result.to_dict(outputs=False)["machine"] == result.machine


def test_an_explicit_energy_table_overrides_the_machines_own():
    result = simulate(STCConfig.preset("a100"), "alexnet-fc8", energy="7nm")
    assert result.energy.table == "7nm"


def test_a100_power_stays_within_physics(fc7):
    # Batch-1 GEMV (memory-bound) below the 400 W TDP; a dense fp16 GEMM at full tensor-core
    # load (4096^3, compute-bound) between 150 and 400 W.
    a100 = STCConfig.preset("a100")
    gemv = simulate(a100, fc7, check=False)
    assert 30e3 < gemv.energy.power_mw < 400e3
    gemm = simulate(a100.dense_twin().replace(batch=4096), fc7, values=False)
    assert gemm.layers[0].mac_slot_utilization > 0.8  # full load
    assert 150e3 <= gemm.energy.power_mw <= 400e3
    static = gemm.energy.leakage_by_unit["sm"] / gemm.time_us / 1e3  # mW
    assert 40e3 <= static <= 80e3  # tens of watts of static power


@pytest.mark.parametrize("engine", ["fast", "des"])
@pytest.mark.parametrize("config", [STCConfig.preset("a100", batch=20),
                                    STCConfig.preset("iso-eie", batch=3, weights_from="dram",
                                                     dtype="int8").dense_twin()])
def test_timing_only_runs_give_the_same_timing_and_counters(config, engine):
    wl = get_workload("alexnet-fc8")
    full = simulate(config, wl, engine=engine)
    timing = simulate(config, wl, engine=engine, values=False)
    a, b = full.layers[0], timing.layers[0]
    assert (a.cycles, a.segment_cycles, a.counts) == (b.cycles, b.segment_cycles, b.counts)
    assert (a.unit_busy_cycles == b.unit_busy_cycles).all()
    assert timing.outputs_match_reference is None and b.outputs.size == 0
    assert full.energy.total_pj == pytest.approx(timing.energy.total_pj)


def test_timing_only_is_refused_where_timing_depends_on_the_values():
    with pytest.raises(ConfigError, match="values=False .* eie's does. Allowed: stc, dense-tc"):
        simulate(EIEConfig(), "alexnet-fc8", values=False)
    with pytest.raises(WorkloadError, match="single-layer workload"):
        simulate(STCConfig.preset("a100"), "alexnet", values=False)
