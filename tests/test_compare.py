"""Like-for-like comparison: the two modes, the batch axis, bounds and labels."""

from __future__ import annotations

import csv
import io

import pytest

from eie_sim.compare import MODES, ROLES, compare, machines, resources, to_csv, totals
from eie_sim.errors import ConfigError


@pytest.fixture(scope="module")
def rows():
    return {mode: compare("alexnet-fc8", mode, [1, 8, 64]) for mode in MODES}


def test_iso_mode_equalizes_peak_macs_clock_sram_dram_and_node():
    res = {role: resources(c) for role, c in machines("iso").items()}
    assert list(res) == list(ROLES)
    assert len(set(res.values())) == 1, res
    one = next(iter(res.values()))
    assert (one.peak_macs_per_cycle, one.clock_mhz, one.technology_nm) == (64, 800.0, 45.0)
    assert one.onchip_sram_bytes == 64 * 162 * 1024 and one.dram_bandwidth_gbps == 25.6


def test_as_built_keeps_each_machine_in_its_own_node():
    res = {role: resources(c) for role, c in machines("as-built").items()}
    assert res["EIE"].technology_nm == 45.0 and res["2:4 tensor core"].technology_nm == 7.0
    assert res["2:4 tensor core"].peak_macs_per_cycle == 108 * 1024


def test_every_row_names_its_machine_and_table(rows):
    for mode, rs in rows.items():
        assert {r.role for r in rs} == set(ROLES)
        for r in rs:
            assert r.machine and r.energy_table and r.mode == mode
        text = to_csv(rs)
        parsed = list(csv.DictReader(io.StringIO(text)))
        assert len(parsed) == len(rs) and all(p["machine"] for p in parsed)
    tables = {r.role: r.energy_table for r in rows["as-built"]}
    assert tables["EIE"] == "45nm" and tables["2:4 tensor core"] == "gpu-7nm"
    assert {r.energy_table for r in rows["iso"]} == {"45nm"}


def test_batch_amortizes_weight_traffic_on_tensor_cores_only(rows):
    per = {(t["role"], t["batch"]): t for t in totals(rows["as-built"])}
    for role in ("EIE", "dense PE array"):  # one vector at a time: nothing to amortize
        assert per[(role, 1)]["time_us_per_inference"] == per[(role, 64)]["time_us_per_inference"]
    tc = [per[("2:4 tensor core", b)]["time_us_per_inference"] for b in (1, 8, 64)]
    assert tc[0] > tc[1] > tc[2]
    assert per[("2:4 tensor core", 64)]["dram_bytes_per_inference"] < (
        per[("2:4 tensor core", 1)]["dram_bytes_per_inference"] / 10)


def test_bounds_name_what_limits_each_machine(rows):
    by = {(r.role, r.batch): r for r in rows["as-built"]}
    assert by[("2:4 tensor core", 1)].bound == "memory"  # a batch-1 GEMV streams weights
    assert by[("EIE", 1)].bound == "compute" and by[("EIE", 1)].arithmetic_intensity is None
    iso = {(r.role, r.batch): r for r in rows["iso"]}
    # batch 1 on an 8-column MMA: 7/8 of the lanes are padding, never useful work
    assert iso[("dense tensor core", 1)].fraction_of_peak <= 1 / 8 + 1e-9
    for r in rows["iso"]:
        assert 0.0 <= r.fraction_of_peak <= 1.0


def test_bad_mode_and_batches_are_refused():
    with pytest.raises(ConfigError, match="allowed: as-built, iso"):
        compare("alexnet-fc8", "equal")
    with pytest.raises(ConfigError, match="batches must be integers >= 1"):
        compare("alexnet-fc8", "iso", [0])
