"""``eie-sim plot``: figures from a sweep directory."""

from __future__ import annotations

from eie_sim.cli._args import examples

#: plot kind -> one line (kept here so ``--help`` needs no matplotlib)
KINDS = {
    "pe-sweep": "speedup and load-balance efficiency vs PEs",
    "queue-depth": "load-balance efficiency vs activation-queue depth",
    "energy-vs-sparsity": "energy and latency vs effective weight sparsity, per machine",
    "energy-breakdown": "energy per inference and its share by unit, per machine",
    "compare": "time, energy, DRAM traffic per machine and layer",
    "roofline": "achieved GFLOP/s against FLOP per DRAM byte, under each machine's roofline",
}


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw a figure (PNG, SVG, PDF) from a sweep directory",
                       description="Draw a figure from a sweep directory: PNG (300 dpi), SVG\n"
                       "(editable text) and PDF (embedded fonts), sized for a two-column paper\n"
                       "(--size column: 3.5 in wide; page: 7 in). Kinds:\n"
                       + "\n".join(f"  {k:20s} {v}" for k, v in KINDS.items())
                       + "\nA kind whose sweep is missing prints the 'eie-sim sweep' command\n"
                       "that makes it.",
                       epilog=examples("eie-sim plot pe-sweep --from runs/pe",
                                       "eie-sim plot compare --from runs/cmp --out figs",
                                       "eie-sim plot energy-breakdown --from runs/cmp "
                                       "--size column"))
    p.add_argument("kind", metavar="KIND",
                   help="one of: " + ", ".join(KINDS))
    p.add_argument("--from", dest="src", required=True, metavar="DIR", help="sweep directory")
    p.add_argument("--out", metavar="DIR", help="output directory (default: --from)")
    p.add_argument("--size", default="page", choices=["page", "column"],
                   help="page: 7 in wide, panels side by side (default); column: 3.5 in, "
                        "panels stacked")


def run(args) -> int:
    from eie_sim.errors import EieSimError
    from eie_sim.plots import PLOTS
    from eie_sim.sweep import SweepResult

    if args.kind not in PLOTS:
        raise EieSimError(f"unknown plot {args.kind!r}; allowed: {', '.join(PLOTS)}")
    table = SweepResult.load(args.src)
    for path in PLOTS[args.kind](table, args.out or args.src, size=args.size):
        print(path)
    return 0
