"""The tensor core at GEMM sizes (issue 14.5): bit-exact outputs at 4096^3, timing only at 16384^3.

Cases, each through the facade ``simulate()`` on the A100 preset, 2:4 fp16, fast engine:

* ``fc7-4096``: ``alexnet-fc7`` (4096 x 4096) at batch 4096, a 4096^3 GEMM: preparation
  (pruning, compression, quantization, batch columns, operands), the engine (timing and the
  output values by the documented accumulation order) and the bit-exact reference check;
  the workload is built once, each run on fresh layer objects (not timed);
* ``gemm-16384-timing``: a 16384 x 16384 layer at batch 16384 with ``values=False`` (timing
  and counters only), for the 2:4 machine and its dense twin.

Times are the best of ``--repeats`` runs in this process after one warm-up. Peak RSS is
measured in a fresh subprocess per case (``--child``), so no earlier work counts. Prints a
table with a PASS/FAIL per target and writes ``benchmarks/results/bench_stc_gemm.json``.
Peak RSS is the subprocess's ``VmHWM`` on Linux (``ru_maxrss`` elsewhere)::

    python benchmarks/bench_stc_gemm.py [--repeats 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from _common import machine_info, peak_rss_bytes, table, verdict, write_json

GIB = 1 << 30
TARGETS = {  # case -> (seconds, peak RSS bytes or None)
    "fc7-4096": (5.0, None),
    "gemm-16384-timing": (2.0, 4 * GIB),
}


def _empty_layer(n: int):
    """A ``n x n`` layer without weights: a timing-only run reads only its shape."""
    from eie_sim.layer import QuantizedLayer

    return QuantizedLayer(name=f"gemm{n}", n_in=n, n_out=n,
                          col_ptr=np.zeros(n + 1, np.int64), row_idx=np.zeros(0, np.int32),
                          weight_idx=np.zeros(0, np.uint8),
                          codebook=np.arange(16, dtype=np.int16), weight_frac_bits=8)


def _case(name: str):
    """``(setup, run)`` of a case: ``run(setup())`` is one measured run, ``setup`` (not timed)
    gives it fresh layer objects, so nothing derived from the layer is carried over from an
    earlier run (the tensor core keeps its compressed layer with the layer object)."""
    from eie_sim import simulate
    from eie_sim.config import STCConfig

    if name == "fc7-4096":
        import dataclasses

        from eie_sim.workloads import get_workload

        wl = get_workload("alexnet-fc7")
        cfg = STCConfig.preset("a100", batch=4096)

        def setup():
            return dataclasses.replace(
                wl, layers=tuple(dataclasses.replace(layer) for layer in wl.layers))

        def run(workload):
            res = simulate(cfg, workload, engine="fast")
            assert res.layers[0].outputs_match_reference is True
            return res

        return setup, run
    n = 16384
    x = np.ones(n, dtype=np.int16)
    cfg = STCConfig.preset("a100", batch=n)

    def run(layer):
        return [simulate(c, layer, inputs=x, values=False) for c in (cfg, cfg.dense_twin())]

    return (lambda: _empty_layer(n)), run


def _child(name: str) -> None:
    setup, run = _case(name)
    arg = setup()
    t0 = time.perf_counter()
    run(arg)
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss": peak_rss_bytes()}))


def _rss_in_subprocess(name: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _breakdown() -> dict:
    """fc7-4096 split: prepare, engine (timing + outputs), reference check (one run each)."""
    from eie_sim.accelerator import RunOptions
    from eie_sim.config import STCConfig
    from eie_sim.engines.stc import model
    from eie_sim.workloads import get_workload

    wl = get_workload("alexnet-fc7")
    cfg = STCConfig.preset("a100", batch=4096)
    t0 = time.perf_counter()
    prepared = model.prepare(wl.layers[0], np.asarray(wl.inputs), cfg, RunOptions())
    t1 = time.perf_counter()
    run = model.run_fast(prepared, cfg)
    t2 = time.perf_counter()
    model.reference(prepared, cfg)
    t3 = time.perf_counter()
    del run
    return {"prepare": t1 - t0, "engine": t2 - t1, "reference": t3 - t2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--breakdown", action="store_true", help="time fc7-4096's parts once")
    ap.add_argument("--child", choices=sorted(TARGETS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return
    info = machine_info()
    print(f"cpu_count {info['cpu_count']}, numpy {info['numpy_version']}, "
          f"commit {info['git_commit']}", flush=True)
    rows, results = [], {}
    # Fresh subprocesses first, while this process is still small.
    children = {name: _rss_in_subprocess(name) for name in TARGETS}
    for name, (t_max, rss_max) in TARGETS.items():
        setup, run = _case(name)
        run(setup())  # warm-up
        times = []
        for _ in range(args.repeats):
            arg = setup()
            t0 = time.perf_counter()
            run(arg)
            times.append(time.perf_counter() - t0)
        best = min(times)
        child = children[name]
        ok_t = best <= t_max
        ok_rss = rss_max is None or child["peak_rss"] <= rss_max
        results[name] = {"seconds_best": best, "seconds_all": times,
                         "peak_rss_bytes": child["peak_rss"],
                         "fresh_process_seconds": child["seconds"],
                         "target_seconds": t_max, "target_peak_rss_bytes": rss_max,
                         "pass": ok_t and ok_rss}
        rows.append([name, f"{best:.2f} s", f"<= {t_max:g} s", verdict(ok_t),
                     f"{child['peak_rss'] / GIB:.2f} GiB",
                     "-" if rss_max is None else f"<= {rss_max / GIB:g} GiB",
                     "-" if rss_max is None else verdict(ok_rss)])
        print(f"{name}: best {best:.2f} s of {times}", flush=True)
    print()
    print(table(["case", "best", "target", "", "peak RSS", "target", ""], rows))
    if args.breakdown:
        results["fc7-4096"]["breakdown_seconds"] = parts = _breakdown()
        print("fc7-4096 parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    path = write_json("bench_stc_gemm", {"repeats": args.repeats, "cases": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
