"""End-to-end ``simulate()`` through the one facade, for every architecture.

What a user runs in-process: workload built once (not timed), then ``simulate(config, wl)``
with encoding / compression, the engine, the reference check, energy pricing and traffic,
best of ``--repeats``. Written so that it also runs on commits from before the registry (the
facade's name and signature did not change), which is how "no slowdown" is measured::

    python benchmarks/bench_facade.py                         # this checkout
    git worktree add /tmp/base <commit>
    PYTHONPATH=/tmp/base python benchmarks/bench_facade.py --label base

Prints one row per case and writes ``benchmarks/results/bench_facade[-LABEL].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

try:  # before the registry: a top-level package
    from workloads import get_workload
except ImportError:  # since: inside the package
    from eie_sim.workloads import get_workload

import eie_sim
from eie_sim import simulate

NINE = ("alexnet-fc6", "alexnet-fc7", "alexnet-fc8", "vgg-fc6", "vgg-fc7", "vgg-fc8",
        "neuraltalk-we", "neuraltalk-wd", "neuraltalk-lstm")


def _configs():
    from eie_sim.config import DenseConfig, EIEConfig

    try:
        from eie_sim.config import STCConfig
    except ImportError:
        from eie_sim.engines.stc import STCConfig
    try:  # since ESE joined the registry
        from eie_sim.config import ESEConfig
        ese = {"ese": ESEConfig()}
    except ImportError:
        ese = {}
    return {
        **ese,
        "eie": EIEConfig(),
        "eie-unbounded": EIEConfig(sram_capacity="unbounded"),
        "dense": DenseConfig(),
        "stc-a100": STCConfig.preset("a100"),
        "stc-a100-b64": STCConfig.preset("a100", batch=64),
        "dense-tc-a100": STCConfig.preset("a100").dense_twin(),
    }


CASES = (
    ("eie", "alexnet-fc6", "fast"),
    ("eie", "alexnet", "fast"),
    ("eie-unbounded", "nine", "fast"),
    ("eie", "alexnet-fc8", "des"),
    ("dense", "alexnet-fc8", "fast"),
    ("dense", "alexnet-fc8", "des"),
    ("stc-a100", "alexnet-fc7", "fast"),
    ("stc-a100", "alexnet-fc8", "des"),
    ("stc-a100-b64", "alexnet-fc8", "fast"),
    ("dense-tc-a100", "alexnet-fc7", "fast"),
    ("ese", "ese-lstm", "fast"),
)


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    configs = _configs()
    cases = [case for case in CASES if case[0] in configs]
    workloads = {name: get_workload(name)
                 for name in {*NINE, *(wl for _, wl, _ in cases if wl != "nine")}}
    rows = []
    for cfg_name, wl_name, engine in cases:
        config = configs[cfg_name]
        targets = [workloads[n] for n in NINE] if wl_name == "nine" else [workloads[wl_name]]
        repeats = args.repeats if engine == "fast" else max(1, args.repeats // 3)

        def run(config=config, targets=targets, engine=engine):
            for wl in targets:
                simulate(config, wl, engine=engine)

        run()  # warm-up (imports)
        seconds = _best(run, repeats)
        rows.append({"config": cfg_name, "workload": wl_name, "engine": engine,
                     "seconds": seconds})
        print(f"{cfg_name:>14} {wl_name:>12} {engine:>5}  {seconds * 1e3:9.1f} ms", flush=True)
    out = {"eie_sim": eie_sim.__file__, "cpu_count": os.cpu_count(), "rows": rows}
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    name = "bench_facade" + (f"-{args.label}" if args.label else "") + ".json"
    with open(os.path.join(os.path.dirname(__file__), "results", name), "w") as fh:
        json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
