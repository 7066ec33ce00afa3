"""Issue 14 ("Fast end to end") targets in one table: PASS/FAIL, and the ratio to the previous
commit's figures.

Every measurement runs in a fresh subprocess of this script (``--child NAME``), so the order
of the measurements and ``--only`` do not change another measurement.
Times are the best of ``--repeats`` runs (default 5) unless the row says otherwise; builds of
synthetic workloads are not timed unless the row says so.

Groups (``--only`` takes a comma-separated list of these):

* ``machine``: fixed reference work no commit changes (a pure-Python loop of 10^7 additions, a
  numpy add of 2^24 float64), information only: on a shared or throttled machine everything
  runs slower, and the footer says by how much against the previous figures;
* ``alex6``: ``simulate()`` on ``alexnet-fc6`` (paper ``EIEConfig()``, fast engine, reference
  check and energy included) on a fresh copy of the layer each run (the per-layer encoding
  cache is then empty: encoding included) <= 40 ms; the same layer object again (encoding
  reused) and the first call in a fresh process as information; the note says which code ran
  the loops (compiled or numpy);
* ``table3``: the nine Table III layers together, fresh layers, outputs checked, <= 0.25 s;
* ``cli``: ``eie-sim run --workload alexnet-fc8 --json out.json``, whole process, median of
  >= 5 runs, <= 0.35 s; ``eie-sim run --weights fc.npz --tensor w --activations x.npy`` on a
  4096 x 1024 layer at 25 % (1 M non-zeros, 14 distinct values, built before) <= 0.5 s;
  ``eie-sim --help`` (information);
* ``llm``: 8192 x 28672 at 10 %, 64 PEs, unbounded SRAM: build + simulate <= 1.5 s and peak
  RSS (``VmHWM``) <= 1.5 GB in a fresh process (one run, start-up included);
* ``llm-big``: 16384 x 57344 at 10 %, the same: <= 8 s and <= 6 GB (one run; ``--quick``
  skips it);
* ``sweep``: ``sweep(EIEConfig(sram_capacity="unbounded"), Table III, num_pes 1..256)``, 81
  points on the default process pool, pool start and workload builds included, <= 4 s (best
  of ``min(--repeats, 3)``);
* ``stc``: the tensor core cases of ``bench_stc_gemm.py`` (imported): fc7 at batch 4096
  (4096^3) <= 5 s (``--quick`` skips it) and 16384^3 timing only <= 2 s, peak RSS <= 4 GB;
* ``des``: the SimPy engine on ``alexnet-fc8`` at 64 PEs (one run, fresh layer): <= 1.05 x
  the previous commit's figure when there is one, else information;
* ``suite``: ``python -m pytest -q`` <= 3 min; only with ``--suite`` (not in the default set).

Output: the table (target, measured, limit, PASS/FAIL, ratio to the previous commit's
figure), ``os.cpu_count()``, the load average at start and end and the git commit;
``benchmarks/results/bench_targets.json``; and ``benchmarks/results/bench_targets_history.json``
(figures keyed by commit, only from a tree without uncommitted changes), where the ratio column
finds the nearest ancestor commit with figures. A measurement that crashes records its error
in its row.

    python benchmarks/bench_targets.py [--quick] [--only alex6,cli] [--repeats 5] [--suite]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from _common import (
    BENCH_DIR,
    REPO_DIR,
    RESULTS_DIR,
    _git,
    machine_info,
    peak_rss_bytes,
    table,
    verdict,
    write_json,
)

SCRIPT = "bench_targets"
HISTORY = RESULTS_DIR / f"{SCRIPT}_history.json"
GB = 10**9
GIB = 1 << 30
GROUPS = ("machine", "alex6", "table3", "cli", "llm", "llm-big", "sweep", "stc", "des", "suite")
DEFAULT_GROUPS = tuple(g for g in GROUPS if g != "suite")
CHILD_TIMEOUT_S = 1800


# --------------------------------------------------------------------------- helpers

def accel_path() -> str:
    """Which code runs the fast path's loops: "compiled" or "numpy"."""
    from eie_sim import accel

    return "compiled" if accel.kernels() is not None else "numpy"


def fresh(workload):
    """A copy of ``workload`` with fresh layer objects (no cached encoding carried over), made
    outside the timed region: building and validating a layer is not part of ``simulate()``."""
    layers = tuple(dataclasses.replace(layer) for layer in workload.layers)
    return dataclasses.replace(workload, layers=layers)


def row(key, target, value, limit, unit, *, ok=None, info=None, note="", error=None,
        compare="le", limit_label=None):
    """One table row. ``limit`` None: information only."""
    if ok is None and error is None and limit is not None and value is not None:
        ok = value <= limit if compare == "le" else value >= limit
    return {"key": key, "target": target, "value": value, "limit": limit, "unit": unit,
            "pass": None if error is not None and ok is None else ok, "note": note,
            "info": info or {}, "error": error, "limit_label": limit_label}


def err_row(key, target, limit, unit, error):
    return row(key, target, None, limit, unit, error=error)


def fmt(value, unit) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "B":
        return f"{value / GB:.2f} GB"
    return f"{value:g} {unit}".strip()


def timed_runs(fn, repeats, setup=None):
    """Seconds of ``repeats`` calls of ``fn`` and the accelerator path after each; with
    ``setup``, each call is ``fn(setup())`` and only ``fn`` is timed."""
    times, paths = [], []
    for _ in range(repeats):
        arg = () if setup is None else (setup(),)
        t0 = time.perf_counter()
        fn(*arg)
        times.append(time.perf_counter() - t0)
        paths.append(accel_path())
    return times, paths


# --------------------------------------------------------------------------- children
# Each returns a list of rows; it runs in a fresh process (``--child``).

def child_machine(repeats: int):
    """The machine's own speed on fixed work that no commit changes (information): a shared or
    throttled machine can run everything slower, and these rows show by how much."""
    import numpy as np

    py, _ = timed_runs(lambda: sum(range(10_000_000)), repeats)
    a = np.ones(1 << 24)
    b = np.empty_like(a)
    np.add(a, a, out=b)  # pages touched before timing
    vec, _ = timed_runs(lambda: np.add(a, a, out=b), repeats)
    return [row("machine_python", "machine: pure Python, 10^7 additions", min(py), None, "s"),
            row("machine_numpy", "machine: numpy add of 2^24 float64", min(vec), None, "s")]


def child_alex6(repeats: int):
    from eie_sim import simulate
    from eie_sim.config import EIEConfig
    from eie_sim.workloads import get_workload

    wl = get_workload("alexnet-fc6")  # not timed
    cfg = EIEConfig()

    def run(w):
        res = simulate(cfg, w, engine="fast")
        if res.layers[0].outputs_match_reference is not True:
            raise AssertionError("alexnet-fc6: outputs do not match the reference")
        return res

    first_copy = fresh(wl)
    t0 = time.perf_counter()
    run(first_copy)
    first = time.perf_counter() - t0
    first_path = accel_path()
    run(fresh(wl))  # warm-up
    times, paths = timed_runs(run, repeats, setup=lambda: fresh(wl))
    same = fresh(wl)
    run(same)  # fill this layer object's encoding cache
    s_times, s_paths = timed_runs(lambda: run(same), repeats)
    best = min(times)
    path = paths[times.index(best)]
    return [
        row("alex6_fresh", "simulate Alex-6, fresh layer (encoding included)", best, 0.040, "s",
            note=path, info={"all_s": times, "paths": paths}),
        row("alex6_same", "simulate Alex-6, same layer again (encoding reused)", min(s_times),
            None, "s", note=s_paths[s_times.index(min(s_times))],
            info={"all_s": s_times, "paths": s_paths}),
        row("alex6_first", "simulate Alex-6, first call in a fresh process", first, None, "s",
            note=first_path),
    ]


def child_table3(repeats: int):
    from eie_sim import simulate
    from eie_sim.config import EIEConfig
    from eie_sim.workloads import get_workload
    from eie_sim.workloads.paper import TABLE_III

    wls = {name: get_workload(name) for name in TABLE_III}  # not timed
    cfg = EIEConfig()
    bad: list[str] = []

    def copies():
        return {name: fresh(wl) for name, wl in wls.items()}

    def run(workloads):
        for name, wl in workloads.items():
            res = simulate(cfg, wl, engine="fast")
            if not all(layer.outputs_match_reference is True for layer in res.layers):
                bad.append(name)

    run(copies())  # warm-up
    run(copies())
    times, paths = timed_runs(run, repeats, setup=copies)
    best = min(times)
    return [row("table3_fresh", "simulate 9 Table III layers, fresh layers, outputs checked",
                best, 0.25, "s", ok=False if bad else None,
                note=paths[times.index(best)] + (f"; MISMATCH {sorted(set(bad))}" if bad else ""),
                info={"all_s": times, "paths": paths, "outputs_mismatch": sorted(set(bad))})]


def _cli_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "eie-sim"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "eie_sim"]


def _process_times(cmd, runs, cwd):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                             timeout=CHILD_TIMEOUT_S)
        times.append(time.perf_counter() - t0)
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(cmd[-6:])} exited {out.returncode}: "
                               + " | ".join(tail))
    return times


def _build_user_layer(tmp: Path) -> tuple[Path, Path, int]:
    """A 4096 x 1024 float32 (outputs x inputs) layer at 25 %, magnitude-pruned, kept values
    on 14 non-zero levels (a deep-compressed layer), and float activations at 40 % density."""
    import numpy as np

    rng = np.random.default_rng(0)
    n_out, n_in = 4096, 1024
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    thresh = np.quantile(np.abs(w), 0.75)
    keep = np.abs(w) >= thresh
    levels = np.linspace(-3.0, 3.0, 15).astype(np.float32)
    levels = levels[levels != 0]
    q = levels[np.abs(w[..., None] - levels).argmin(axis=-1)]
    w = np.where(keep, q, 0).astype(np.float32)
    x = rng.uniform(0.0, 4.0, n_in) * (rng.random(n_in) < 0.4)
    npz, npy = tmp / "fc.npz", tmp / "x.npy"
    np.savez(npz, w=w)
    np.save(npy, x.astype(np.float32))
    return npz, npy, int(np.count_nonzero(w))


def child_cli(repeats: int):
    runs = max(5, repeats)
    cli = _cli_cmd()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        key, target = "cli_fc8", "eie-sim run --workload alexnet-fc8 --json (median)"
        try:
            times = _process_times([*cli, "run", "--workload", "alexnet-fc8", "--json",
                                    str(tmp / "out.json"), "--no-progress"], runs, tmp)
            json.loads((tmp / "out.json").read_text())
            rows.append(row(key, target, statistics.median(times), 0.35, "s",
                            note=f"median of {runs}", info={"all_s": times}))
        except Exception as exc:
            rows.append(err_row(key, target, 0.35, "s", f"{type(exc).__name__}: {exc}"))
        key, target = "cli_weights", "eie-sim run --weights (1 M non-zeros) --activations"
        try:
            npz, npy, nnz = _build_user_layer(tmp)  # not timed
            times = _process_times([*cli, "run", "--weights", str(npz), "--tensor", "w",
                                    "--activations", str(npy), "--no-progress"], runs, tmp)
            rows.append(row(key, target, min(times), 0.5, "s", note=f"{nnz / 1e6:.2f} M nnz",
                            info={"all_s": times, "median_s": statistics.median(times),
                                  "nnz": nnz}))
        except Exception as exc:
            rows.append(err_row(key, target, 0.5, "s", f"{type(exc).__name__}: {exc}"))
        key, target = "cli_help", "eie-sim --help (median)"
        try:
            times = _process_times([*cli, "--help"], runs, tmp)
            rows.append(row(key, target, statistics.median(times), None, "s",
                            note=f"median of {runs}", info={"all_s": times}))
        except Exception as exc:
            rows.append(err_row(key, target, None, "s", f"{type(exc).__name__}: {exc}"))
    return rows


def _llm(key: str, n_in: int, n_out: int, t_max: float, rss_max: int):
    def child(repeats: int):
        t_imp = time.perf_counter()
        from eie_sim import simulate
        from eie_sim.config import EIEConfig
        from eie_sim.workloads import LayerSpec, single_layer

        imports = time.perf_counter() - t_imp
        t0 = time.perf_counter()
        wl = single_layer(LayerSpec("llm", n_in, n_out, 0.1, 1.0, seed=0))
        t1 = time.perf_counter()
        res = simulate(EIEConfig(num_pes=64, sram_capacity="unbounded"), wl, engine="fast")
        t2 = time.perf_counter()
        match = all(layer.outputs_match_reference is True for layer in res.layers)
        rss = peak_rss_bytes()
        label = f"{n_in} x {n_out} @ 10 %"
        info = {"build_s": t1 - t0, "simulate_s": t2 - t1, "imports_s": imports,
                "nnz": int(wl.layers[0].nnz) if hasattr(wl.layers[0], "nnz") else None,
                "outputs_match_reference": match}
        note = f"build {t1 - t0:.2f} + sim {t2 - t1:.2f} s; {accel_path()}"
        rows = [row(f"{key}_time", f"{label}: build + simulate", t2 - t0, t_max, "s",
                    ok=False if not match else None,
                    note=note + ("" if match else "; OUTPUT MISMATCH"), info=info),
                row(f"{key}_rss", f"{label}: peak RSS (VmHWM, fresh process)", rss, rss_max,
                    "B")]
        return rows
    return child


def child_sweep(repeats: int):
    from eie_sim.config import EIEConfig
    from eie_sim.sweep import sweep, worker_count
    from eie_sim.workloads.paper import TABLE_III

    pes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    cfg = EIEConfig(sram_capacity="unbounded")
    times, n_rows = [], 0
    for _ in range(min(repeats, 3)):
        t0 = time.perf_counter()
        res = sweep(cfg, list(TABLE_III), {"num_pes": pes})
        times.append(time.perf_counter() - t0)
        n_rows = len(res.rows)
    bad = [r for r in res.rows
           if r.get("error") or r.get("outputs_match_reference") is False]
    workers = worker_count(None, len(res.rows))
    return [row("sweep_81", "sweep: 9 Table III layers x 9 PE counts (pool, builds)",
                min(times), 4.0, "s", ok=False if (bad or n_rows != 81) else None,
                note=f"{workers} workers, {n_rows} points"
                + (f"; {len(bad)} points failed" if bad else ""),
                info={"all_s": times, "workers": workers, "points": n_rows,
                      "failed_points": [(r.get("workload"), r.get("num_pes"), r.get("error"))
                                        for r in bad]})]


def _stc_child(case: str, key: str, target: str, t_max: float):
    def child(repeats: int):
        import bench_stc_gemm

        setup, run = bench_stc_gemm._case(case)  # inputs built here, not timed
        run(setup())  # warm-up
        times, _ = timed_runs(run, min(repeats, 3), setup=setup)
        rows = [row(key + "_time", target, min(times), t_max, "s", info={"all_s": times})]
        return rows
    return child


def _stc_rss(repeats: int):
    """Peak RSS of 16384^3 timing-only, from bench_stc_gemm's own fresh subprocess."""
    import bench_stc_gemm

    out = bench_stc_gemm._rss_in_subprocess("gemm-16384-timing")
    return [row("stc16384_rss", "STC 16384^3 timing only: peak RSS (fresh process)",
                out["peak_rss"], 4 * GIB, "B", limit_label="<= 4 GiB",
                info={"fresh_process_s": out["seconds"]})]


def child_des(repeats: int):
    from eie_sim import simulate
    from eie_sim.config import EIEConfig
    from eie_sim.workloads import get_workload

    wl = get_workload("alexnet-fc8")  # not timed
    seconds = float("inf")
    for _ in range(min(repeats, 3)):  # one run varies by ~10 % here: best of 3
        copy = fresh(wl)
        t0 = time.perf_counter()
        res = simulate(EIEConfig(num_pes=64), copy, engine="des")
        seconds = min(seconds, time.perf_counter() - t0)
    match = res.layers[0].outputs_match_reference is True
    # The limit (1.05 x previous) is set by the parent, which has the history.
    return [row("des_fc8", "SimPy engine, alexnet-fc8 @ 64 PEs (best of 3)", seconds, None, "s",
                ok=False if not match else None, note="" if match else "OUTPUT MISMATCH",
                info={"cycles": res.cycles, "outputs_match_reference": match})]


def child_suite(repeats: int):
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=REPO_DIR, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t0
    last = (out.stdout.strip().splitlines() or [""])[-1]
    ok = seconds <= 180 and out.returncode == 0
    return [row("suite", "python -m pytest -q (whole process)", seconds, 180.0, "s", ok=ok,
                note=last[-60:], info={"returncode": out.returncode, "summary": last})]


# name -> (group, function, description used if the child crashes, limit, unit)
CHILDREN = {
    "machine": ("machine", child_machine, "machine: reference work", None, "s"),
    "alex6": ("alex6", child_alex6, "simulate Alex-6, fresh layer (encoding included)",
              0.040, "s"),
    "table3": ("table3", child_table3,
               "simulate 9 Table III layers, fresh layers, outputs checked", 0.25, "s"),
    "cli": ("cli", child_cli, "eie-sim run whole-process figures", None, "s"),
    "llm": ("llm", _llm("llm", 8192, 28672, 1.5, int(1.5 * GB)),
            "8192 x 28672 @ 10 %: build + simulate", 1.5, "s"),
    "llm-big": ("llm-big", _llm("llm_big", 16384, 57344, 8.0, 6 * GB),
                "16384 x 57344 @ 10 %: build + simulate", 8.0, "s"),
    "sweep": ("sweep", child_sweep, "sweep: 9 Table III layers x 9 PE counts", 4.0, "s"),
    "stc-4096": ("stc", _stc_child("fc7-4096", "stc4096",
                                   "STC alexnet-fc7 @ batch 4096 (4096^3, bit-exact)", 5.0),
                 "STC alexnet-fc7 @ batch 4096 (4096^3, bit-exact)", 5.0, "s"),
    "stc-16384": ("stc", _stc_child("gemm-16384-timing", "stc16384",
                                    "STC 16384^3 timing only (2:4 + dense twin)", 2.0),
                  "STC 16384^3 timing only (2:4 + dense twin)", 2.0, "s"),
    "stc-16384-rss": ("stc", _stc_rss, "STC 16384^3 timing only: peak RSS", 4 * GIB, "B"),
    "des": ("des", child_des, "SimPy engine, alexnet-fc8 @ 64 PEs (one run)", None, "s"),
    "suite": ("suite", child_suite, "python -m pytest -q (whole process)", 180.0, "s"),
}
QUICK_SKIPS = {"llm-big", "stc-4096"}


def run_child(name: str, repeats: int) -> list[dict]:
    """Run one measurement in a fresh subprocess; a crash becomes an error row."""
    _, _, desc, limit, unit = CHILDREN[name]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
           "--repeats", str(repeats)]
    try:
        out = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True,
                             timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [err_row(name, desc, limit, unit, f"timed out after {CHILD_TIMEOUT_S} s")]
    for line in reversed(out.stdout.strip().splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            if "error" in data:
                return [err_row(name, desc, limit, unit, data["error"])]
            return data["rows"]
    tail = " | ".join((out.stderr or "").strip().splitlines()[-3:])
    return [err_row(name, desc, limit, unit,
                    f"child exited {out.returncode} without a result: {tail}")]


def child_main(name: str, repeats: int) -> None:
    try:
        rows = CHILDREN[name][1](repeats)
        print(json.dumps({"rows": rows}, default=float))
    except Exception as exc:
        traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(json.dumps({"error": f"{type(exc).__name__}: {exc} "
                                   f"({Path(where.filename).name}:{where.lineno})"}))


# --------------------------------------------------------------------------- history

def load_history() -> dict:
    try:
        data = json.loads(HISTORY.read_text())
        return data if isinstance(data.get("commits"), dict) else {"commits": {}}
    except (OSError, ValueError, AttributeError):
        return {"commits": {}}


def previous_figures(history: dict, head: str | None) -> dict[str, tuple[str, float]]:
    """Per figure key, ``(commit, value)`` from the nearest ancestor of ``head`` (not ``head``
    itself) whose history entry has that figure."""
    commits = history["commits"]
    if not head:
        return {}
    found: dict[str, tuple[str, float]] = {}
    for c in (_git("rev-list", "--max-count=1000", head) or "").split()[1:]:
        entry = commits.get(c, {})
        if entry.get("library_has_uncommitted_changes"):  # older files recorded such runs
            continue
        for key, value in entry.get("figures", {}).items():
            found.setdefault(key, (c, value))
    return found


def seed_history_from_last_json(history: dict) -> None:
    """Add the last ``bench_targets.json`` to the history if its commit is missing (e.g. a
    history file deleted by hand)."""
    try:
        last = json.loads((RESULTS_DIR / f"{SCRIPT}.json").read_text())
    except (OSError, ValueError):
        return
    commit = last.get("commit_at_start")
    if last.get("library_has_uncommitted_changes") is not False:
        return  # a changed tree's figures (or an older file that did not say) are not the commit's
    if commit and commit not in history["commits"]:
        figs = {r["key"]: r["value"] for r in last.get("rows", []) if r.get("value") is not None}
        history["commits"][commit] = {"timestamp_utc": last.get("timestamp_utc_at_start"),
                                      "figures": figs}


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip the 16384 x 57344 layer and the STC 4096^3 case")
    ap.add_argument("--only", help=f"comma-separated groups: {', '.join(GROUPS)}")
    ap.add_argument("--repeats", type=int, default=5, help="runs per timing (best of)")
    ap.add_argument("--suite", action="store_true", help="also time the test suite (~3 min)")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child, args.repeats)
        return
    groups = set(DEFAULT_GROUPS)
    if args.only:
        groups = {g.strip() for g in args.only.split(",") if g.strip()}
        unknown = groups - set(GROUPS)
        if unknown:
            ap.error(f"unknown group(s) {', '.join(sorted(unknown))}; use {', '.join(GROUPS)}")
    if args.suite:
        groups.add("suite")
    names = [n for n, spec in CHILDREN.items() if spec[0] in groups
             and not (args.quick and n in QUICK_SKIPS)]

    info = machine_info()
    head = info["git_commit"]
    load_start = os.getloadavg()
    cores = os.cpu_count()
    print(f"commit {head}  cpu_count {cores}  load average at start "
          f"{' '.join(f'{x:.2f}' for x in load_start)}  fast loops: {info['fast_engine_loops']}"
          + ("  (library has uncommitted changes)" if info["library_has_uncommitted_changes"]
             else ""), flush=True)

    history = load_history()
    seed_history_from_last_json(history)
    prev = previous_figures(history, head)

    rows: list[dict] = []
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        new = run_child(name, args.repeats)
        print(f"  {name}: {time.perf_counter() - t0:.1f} s"
              + "".join(f"; {r['key']} {fmt(r['value'], r['unit'])}"
                        + (f" ERROR {r['error']}" if r["error"] else "") for r in new),
              flush=True)
        rows += new
    load_end = os.getloadavg()

    for r in rows:
        prev_commit, p = prev.get(r["key"], (None, None))
        r["previous"], r["previous_commit"] = p, prev_commit
        r["ratio"] = r["value"] / p if (p and r["value"] is not None) else None
        if r["key"] == "des_fc8" and p:
            r["limit"] = 1.05 * p
            if r["pass"] is None and r["value"] is not None:
                r["pass"] = r["value"] <= r["limit"]

    def limit_text(r):
        if r["limit"] is None:
            return "info"
        if r["key"] == "des_fc8":
            return f"<= 1.05 x prev ({fmt(r['limit'], 's')})"
        if r.get("limit_label"):
            return r["limit_label"]
        return "<= " + fmt(r["limit"], r["unit"])

    def status(r):
        if r["error"]:
            return "ERROR"
        if r["limit"] is None:
            return "-"
        return verdict(bool(r["pass"]))

    lines = [[r["target"], fmt(r["value"], r["unit"]), limit_text(r), status(r),
              "-" if r["ratio"] is None else f"{r['ratio']:.2f}x",
              (r["error"][:70] if r["error"] else r["note"])] for r in rows]
    print()
    print(table(["target", "measured", "limit", "", "vs prev", "note"], lines, "lrllrl"))
    print()
    n_fail = sum(1 for r in rows if r["limit"] is not None and r["pass"] is False)
    n_err = sum(1 for r in rows if r["error"])
    print(f"cpu_count {cores}; load average start {load_start[0]:.2f}, end {load_end[0]:.2f} "
          f"(1 min); commit {head}; total {time.perf_counter() - t_all:.0f} s")
    if max(load_start[0], load_end[0]) > 0.5 * (cores or 1):
        print(f"NOTE: the machine was loaded (1-min load average up to "
              f"{max(load_start[0], load_end[0]):.1f} on {cores} cores): figures are pessimistic")
    speed = [r["ratio"] for r in rows if r["key"].startswith("machine_") and r.get("ratio")]
    if speed and max(speed) > 1.15:
        print(f"NOTE: the machine ran the fixed reference work {max(speed):.2f}x slower than "
              "for the previous figures: read the vs-prev ratios in that light")
    used = sorted({r["previous_commit"][:10] for r in rows if r["previous_commit"]})
    print("vs prev: this run / the same figure at the nearest earlier commit in the history ("
          + (", ".join(used) if used else "none yet") + ")")
    print(f"{n_fail} FAIL, {n_err} ERROR of {sum(1 for r in rows if r['limit'] is not None)} "
          "targets")

    # write_json's machine info is taken at the end; others may have committed meanwhile.
    path = write_json(SCRIPT, {"commit_at_start": head,
                               "timestamp_utc_at_start": info["timestamp_utc"],
                               "groups": sorted(groups), "quick": args.quick,
                               "repeats": args.repeats, "load_average_start": load_start,
                               "library_has_uncommitted_changes":
                                   info["library_has_uncommitted_changes"],
                               "load_average_end": load_end,
                               "rows": rows})
    if head and info["library_has_uncommitted_changes"] is False:
        entry = history["commits"].setdefault(head, {"figures": {}})
        entry["timestamp_utc"] = info["timestamp_utc"]
        entry["figures"].update({r["key"]: r["value"] for r in rows if r["value"] is not None})
        tmp = HISTORY.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(history, indent=1) + "\n")
        os.replace(tmp, HISTORY)
        print(f"wrote {path} and {HISTORY.name}")
    else:  # the figures of a changed tree are not the commit's: kept out of the history
        print(f"wrote {path}; not added to {HISTORY.name} (uncommitted changes or no commit)")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    main()
