"""``eie-sim workloads``: the named workloads."""

from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("workloads", help="list the named workloads",
                   description="List the named workloads with their shapes and densities.")


def run(args) -> int:
    from eie_sim.workloads import describe, workload_names

    names = workload_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name.ljust(width)}  {describe(name)}")
    return 0
