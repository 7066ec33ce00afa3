"""The load-balance study: load-balance pruning evens the PEs and speeds up ESE and EIE."""

from __future__ import annotations

from eie_sim.ese_study import load_balance_sweep, markdown_table


def test_load_balance_pruning_beats_magnitude_pruning_on_spread_rows():
    rows = load_balance_sweep(pes=(16,), hidden=128, projection=64, input_size=32)
    by = {(r["arch"], r["prune"]): r for r in rows}
    for arch in ("ese", "eie"):
        lb, mag = by[(arch, "load-balance")], by[(arch, "magnitude")]
        assert lb["cycles"] < mag["cycles"]
        assert lb["mac_slot_utilization"] > mag["mac_slot_utilization"]
        assert lb["lb_speedup"] == mag["cycles"] / lb["cycles"] > 1
    assert by[("ese", "load-balance")]["pe_nnz_spread"] < by[("ese", "magnitude")]["pe_nnz_spread"]


def test_markdown_table_has_one_row_per_pe_count_and_arch():
    rows = load_balance_sweep(pes=(4, 8), hidden=32, projection=16, input_size=8)
    table = markdown_table(rows).splitlines()
    assert len(table) == 2 + 2 * 2 and table[0].startswith("| PEs | arch |")
    ese4 = next(r for r in rows if (r["arch"], r["pes"], r["prune"]) == ("ese", 4, "magnitude"))
    lb4 = next(r for r in rows if (r["arch"], r["pes"], r["prune"]) == ("ese", 4, "load-balance"))
    line = next(t for t in table if t.startswith("| 4 | ESE |"))
    assert f"{ese4['cycles']:,} | {lb4['cycles']:,}" in line
    assert f"{lb4['lb_speedup']:.2f}x" in line and "—" in next(t for t in table if "EIE" in t)
