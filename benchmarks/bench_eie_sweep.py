"""PE-count sweep: the nine Table III layers x 1, 2, 4, ..., 256 PEs with the fast engine.

Each point is ``simulate(EIEConfig(num_pes=n, sram_capacity="unbounded"), workload,
engine="fast")`` -- encoding, simulation and the reference check included. Memories are
unbounded because one PE cannot hold AlexNet's weights in 128 KB; the paper's PE-scaling study
assumes the memories grow with the layer. Each workload is built once (not timed).

Target: all 81 simulations in <= 30 s total.

    python benchmarks/bench_eie_sweep.py           # 9 layers x 9 PE counts
    python benchmarks/bench_eie_sweep.py --quick   # 3 layers, smoke test (no target)

Writes benchmarks/results/bench_eie_sweep.json (bench_eie_sweep_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import table, timed, verdict, write_json

from eie_sim.config import EIEConfig
from eie_sim.simulate import simulate
from eie_sim.workloads import get_workload
from eie_sim.workloads.paper import TABLE_III

PE_COUNTS = tuple(2**i for i in range(9))  # 1 .. 256
QUICK_LAYERS = ("alexnet-fc7", "alexnet-fc8", "neuraltalk-lstm")
TOTAL_TARGET_S = 30.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"only {', '.join(QUICK_LAYERS)} (smoke test; the target is not checked)",
    )
    args = ap.parse_args(argv)
    names = QUICK_LAYERS if args.quick else tuple(TABLE_III)
    script = "bench_eie_sweep_quick" if args.quick else "bench_eie_sweep"

    print(f"Building {len(names)} workloads (not timed) ...", flush=True)
    build_s, workloads = {}, {}
    for name in names:
        build_s[name], workloads[name] = timed(get_workload, name)

    points = []
    t_all = time.perf_counter()
    for name in names:
        for n in PE_COUNTS:
            config = EIEConfig(num_pes=n, sram_capacity="unbounded")
            wall, res = timed(simulate, config, workloads[name], engine="fast")
            lr = res.layers[0]
            points.append(
                {
                    "layer": name,
                    "num_pes": n,
                    "wall_s": wall,
                    "cycles": lr.cycles,
                    "time_us": lr.time_us,
                    "passes": len(lr.segment_cycles),
                    "load_balance_efficiency": lr.load_balance_efficiency,
                    "pe_utilization": lr.unit_utilization,
                    "outputs_match_reference": lr.outputs_match_reference,
                }
            )
        print(
            f"  {name}: {sum(p['wall_s'] for p in points if p['layer'] == name):.2f} s", flush=True
        )
    total_s = time.perf_counter() - t_all

    by = {(p["layer"], p["num_pes"]): p for p in points}
    for p in points:
        p["speedup_vs_1pe"] = by[(p["layer"], 1)]["cycles"] / p["cycles"]
        p["scaling_efficiency"] = p["speedup_vs_1pe"] / p["num_pes"]

    pe_hdr = [str(n) for n in PE_COUNTS]
    print("\nCycles (fast engine, sram_capacity unbounded)")
    print(
        table(
            ["layer \\ PEs", *pe_hdr],
            [[nm, *(by[(nm, n)]["cycles"] for n in PE_COUNTS)] for nm in names],
        )
    )
    print("\nSpeedup vs 1 PE (cycles_1 / cycles_N)")
    print(
        table(
            ["layer \\ PEs", *pe_hdr],
            [[nm, *(f"{by[(nm, n)]['speedup_vs_1pe']:.1f}" for n in PE_COUNTS)] for nm in names],
        )
    )
    print("\nLoad-balance efficiency (busy / (busy + stall))")
    print(
        table(
            ["layer \\ PEs", *pe_hdr],
            [
                [nm, *(f"{by[(nm, n)]['load_balance_efficiency']:.3f}" for n in PE_COUNTS)]
                for nm in names
            ],
        )
    )
    print("\nWall time per simulation, s (encode + simulate + reference check)")
    print(
        table(
            ["layer \\ PEs", *pe_hdr, "sum"],
            [
                [
                    nm,
                    *(f"{by[(nm, n)]['wall_s']:.3f}" for n in PE_COUNTS),
                    f"{sum(by[(nm, n)]['wall_s'] for n in PE_COUNTS):.2f}",
                ]
                for nm in names
            ],
        )
    )

    all_ok = all(p["outputs_match_reference"] for p in points)
    print(f"\noutputs match the reference model at every point: {'yes' if all_ok else 'NO'}")
    check = None
    if args.quick:
        print(f"{len(points)} simulations in {total_s:.2f} s (quick mode: target not checked)")
    else:
        check = {
            "what": f"{len(points)} simulations, total wall time",
            "measured_s": total_s,
            "target": f"<= {TOTAL_TARGET_S:g} s",
            "pass": total_s <= TOTAL_TARGET_S,
        }
        print(
            table(
                ["check", "measured", "target", "result"],
                [[check["what"], f"{total_s:.2f} s", check["target"], verdict(check["pass"])]],
            )
        )

    path = write_json(
        script,
        {
            "quick": args.quick,
            "layers": list(names),
            "pe_counts": list(PE_COUNTS),
            "config": {
                "sram_capacity": "unbounded",
                "engine": "fast",
                "other": "EIEConfig defaults",
            },
            "timing": "simulate() per point: encoding + fast engine + reference check; "
            "workload generation not timed",
            "build_s_not_timed": build_s,
            "total_wall_s": total_s,
            "target": check,
            "all_outputs_match_reference": all_ok,
            "points": points,
        },
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
