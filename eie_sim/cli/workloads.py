"""``eie-sim workloads``: the named workloads."""

from __future__ import annotations

from eie_sim.cli._args import examples


def add_parser(sub) -> None:
    sub.add_parser("workloads", help="list the named workloads",
                   description="List the named workloads with their shapes and densities. "
                   "Your own network: eie-sim run --weights FILE (docs/WORKLOADS.md).",
                   epilog=examples("eie-sim workloads",
                                   "eie-sim run --workload alexnet-fc7",
                                   "eie-sim run --weights model.safetensors "
                                   "--activation-density 0.4"))


def run(args) -> int:
    from eie_sim.workloads import describe, workload_names

    names = workload_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name.ljust(width)}  {describe(name)}")
    return 0
