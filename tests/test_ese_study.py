"""The load-balance study: load-balance pruning evens the PEs and speeds up ESE and EIE."""

from __future__ import annotations

from eie_sim.ese_study import load_balance_sweep


def test_load_balance_pruning_beats_magnitude_pruning_on_spread_rows():
    rows = load_balance_sweep(pes=(16,), hidden=128, projection=64, input_size=32)
    by = {(r["arch"], r["prune"]): r for r in rows}
    for arch in ("ese", "eie"):
        lb, mag = by[(arch, "load-balance")], by[(arch, "magnitude")]
        assert lb["cycles"] < mag["cycles"]
        assert lb["mac_slot_utilization"] > mag["mac_slot_utilization"]
        assert lb["lb_speedup"] == mag["cycles"] / lb["cycles"] > 1
    assert by[("ese", "load-balance")]["pe_nnz_spread"] < by[("ese", "magnitude")]["pe_nnz_spread"]
