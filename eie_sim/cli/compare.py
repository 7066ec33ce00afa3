"""``eie-sim compare``: EIE vs the 2:4 tensor core vs dense machines, like for like."""

from __future__ import annotations

from eie_sim.cli._args import examples, int_arg, list_of, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="EIE vs the 2:4 tensor core vs dense machines (as built or iso)",
        description="Run every machine of a comparison mode on a workload at one or more "
                    "batch sizes: time and energy per inference, the bound (compute, memory, "
                    "broadcast), arithmetic intensity and fraction of peak. 'as-built': each "
                    "machine in its own node and size; 'iso': one node, the same peak MACs "
                    "per cycle, clock, on-chip SRAM and DRAM bandwidth (docs/COMPARING.md).",
        epilog=examples("eie-sim compare --workload alexnet",
                        "eie-sim compare --workload alexnet --mode iso --batch 1,8,64,256",
                        "eie-sim compare --workload alexnet-fc7 --csv cmp.csv --json cmp.json"))
    p.add_argument("--workload", required=True, metavar="NAME", help="named workload")
    p.add_argument("--seed", type=int_arg, metavar="S", help="workload seed")
    p.add_argument("--mode", default="as-built", choices=["as-built", "iso"],
                   help="as-built (default): each machine in its own technology; iso: equal "
                        "resources at 45 nm")
    p.add_argument("--batch", default=[1], type=list_of(positive_int, "batch sizes >= 1"),
                   metavar="B[,B...]", help="batch sizes (default 1)")
    p.add_argument("--engine", default="fast", choices=["fast", "des"])
    p.add_argument("--energy", default="default", metavar="TABLE",
                   help="each machine's own table (default), or one for all: 45nm, 7nm, "
                        "gpu-7nm or a YAML file")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--csv", metavar="PATH", help="also write the rows as CSV (one per machine, "
                                                 "layer and batch)")


def run(args) -> int:
    import dataclasses

    from eie_sim.compare import compare, to_csv, totals
    from eie_sim.report import format_compare
    from eie_sim.result import check_writable, dumps, write_atomic

    for path in (args.json, args.csv):
        if path:
            check_writable(path)
    rows = compare(args.workload, args.mode, args.batch, engine=args.engine, seed=args.seed,
                   energy=args.energy)
    sums = totals(rows)
    if args.json:
        write_atomic(args.json, dumps({"mode": args.mode, "workload": args.workload,
                                       "rows": [dataclasses.asdict(r) for r in rows],
                                       "totals": sums}))
    if args.csv:
        write_atomic(args.csv, to_csv(rows))
    print(format_compare(rows, sums))
    return 0
