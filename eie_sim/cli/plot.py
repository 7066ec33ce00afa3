"""``eie-sim plot``: figures from a sweep directory."""

from __future__ import annotations

from eie_sim.cli._args import examples

#: plot kind -> one line (kept here so ``--help`` needs no matplotlib)
KINDS = {
    "pe-sweep": "speedup and load-balance efficiency vs PEs",
    "queue-depth": "load-balance efficiency vs activation-queue depth",
    "energy-vs-sparsity": "energy and latency vs effective weight sparsity, per machine",
    "energy-breakdown": "stacked energy by unit, per machine",
    "compare": "time, energy, DRAM traffic per machine and layer",
    "roofline": "achieved GFLOP/s against FLOP per DRAM byte, under each machine's roofline",
}


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw a plot from a sweep directory",
                       description="Draw a plot (PNG + SVG) from a sweep directory. Kinds:\n"
                       + "\n".join(f"  {k:20s} {v}" for k, v in KINDS.items()),
                       epilog=examples("eie-sim plot pe-sweep --from runs/pe",
                                       "eie-sim plot compare --from runs/cmp --out figs"))
    p.add_argument("kind", metavar="KIND", help="one of " + ", ".join(KINDS))
    p.add_argument("--from", dest="src", required=True, metavar="DIR", help="sweep directory")
    p.add_argument("--out", metavar="DIR", help="output directory (default: --from)")


def run(args) -> int:
    from eie_sim.errors import EieSimError
    from eie_sim.plots import PLOTS
    from eie_sim.sweep import SweepResult

    if args.kind not in PLOTS:
        raise EieSimError(f"unknown plot {args.kind!r}; allowed: {', '.join(PLOTS)}")
    table = SweepResult.load(args.src)
    for path in PLOTS[args.kind](table, args.out or args.src):
        print(path)
    return 0
