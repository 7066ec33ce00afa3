"""``eie-sim sweep``: a grid of machines x config values x workloads -> CSV and JSON."""

from __future__ import annotations

import os
import sys

from eie_sim.cli._args import (
    add_arch_arguments,
    arch_flags,
    base_config,
    examples,
    float_arg,
    int_arg,
    list_of,
    not_applicable,
    positive_int,
)
from eie_sim.errors import EieSimError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="run a grid of configs x workloads, write CSV and JSON",
        description="Run every combination of the given values (each config flag takes a "
                    "comma-separated list) on every workload; one row per point, with the "
                    "machine, its status (infeasible points are rows, not failures) and its "
                    "results. Finished points are cached and never recomputed.",
        epilog=examples(
            "eie-sim sweep --arch eie --workload alexnet-fc6,alexnet-fc7 "
            "--pes 1,2,4,8,16,32,64,128,256 --out runs/pe",
            "eie-sim sweep --arch stc,dense-tc --preset a100 --batch 1,8,64 "
            "--workload alexnet-fc7 --out runs/tc",
            "eie-sim sweep --arch eie,stc,dense-tc,dense --inputs 4096 --outputs 1024 "
            "--weight-density 0.1,0.5,1.0 --pattern 2:4,1:4 --activation-density 0.35 "
            "--out runs/sparsity"))
    wl = p.add_argument_group("workloads")
    wl.add_argument("--workload", type=list_of(str, "workload names"), metavar="NAME[,NAME...]",
                    help="named workloads (or a synthetic layer with --inputs ...)")
    wl.add_argument("--inputs", type=int_arg, metavar="N", help="synthetic layer inputs")
    wl.add_argument("--outputs", type=int_arg, metavar="M", help="synthetic layer outputs")
    wl.add_argument("--weight-density", type=list_of(float_arg, "numbers"), metavar="D[,D...]")
    wl.add_argument("--activation-density", type=list_of(float_arg, "numbers"),
                    metavar="D[,D...]")
    wl.add_argument("--seed", type=list_of(int_arg, "integers"), metavar="S[,S...]",
                    help="workload seeds")
    add_arch_arguments(p.add_argument_group("machines (every config field takes a list)"),
                       as_list=True)
    run_ = p.add_argument_group("running")
    run_.add_argument("--engine", default="fast", choices=["fast", "des"])
    run_.add_argument("--energy", default="default", metavar="TABLE",
                      help="each machine's own table (default), or 45nm, 7nm, gpu-7nm, a YAML")
    run_.add_argument("--jobs", type=positive_int, metavar="N",
                      help="worker processes (>= 1; default and at most: the cores, and the "
                           "points)")
    run_.add_argument("--out", required=True, metavar="DIR", help="writes DIR/sweep.csv, .json")
    run_.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from pathlib import Path

    from eie_sim import registry
    from eie_sim.result import check_writable
    from eie_sim.sweep import available_cores, grid, run_sweep, worker_count

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise EieSimError(f"--out {out} is a file; allowed: a directory")
    if out.is_dir():  # an existing folder: writable, and its result files replaceable
        if not os.access(out, os.W_OK | os.X_OK):
            raise EieSimError(f"cannot write into --out directory {out}: it is not writable")
        for name in ("sweep.csv", "sweep.json"):
            check_writable(out / name)
    for arch in args.arch:
        registry.get(arch)  # unknown -> one-line error listing the allowed ones
    synthetic = args.inputs is not None or args.outputs is not None
    if synthetic == (args.workload is not None):
        raise EieSimError("give either --workload NAME[,NAME...] or a synthetic layer "
                          "(--inputs, --outputs, --weight-density, --activation-density)")
    params: dict[str, list] = {}
    for spec in arch_flags():
        values = getattr(args, spec.dest, None)
        if values is None:
            continue
        mine = {a: f for a, f in spec.fields.items() if a in args.arch}
        if not mine:
            raise not_applicable(spec, args.arch)
        for field in mine.values():
            params[field.name] = values
    if synthetic:
        if None in (args.inputs, args.outputs, args.weight_density, args.activation_density):
            raise EieSimError("a synthetic sweep needs --inputs, --outputs, --weight-density "
                              "and --activation-density")
        workloads = [{"inputs": args.inputs, "outputs": args.outputs}]
        params["workload.weight_density"] = args.weight_density
        params["workload.activation_density"] = args.activation_density
    else:
        workloads = args.workload
    with_presets = [a for a in args.arch if registry.get(a).presets]
    if args.preset is not None and not with_presets:
        raise EieSimError(f"--preset applies to archs with presets, not {', '.join(args.arch)}")
    configs = []
    for arch in args.arch:
        path = args.config
        if path is not None and registry.load_config(path, arch).arch != arch:
            path = None  # the file configures another of the swept archs
        configs.append(base_config(arch, path, args.preset if arch in with_presets else None))
    if args.config is not None and not any(
            registry.load_config(args.config, a).arch == a for a in args.arch):
        raise EieSimError(f"--config {args.config} configures none of the swept archs "
                          f"({', '.join(args.arch)})")
    if args.energy != "default":
        from eie_sim.energy import load_table

        load_table(args.energy)  # fail before any work
    points = grid(configs, workloads, params, seeds=args.seed or (None,), engine=args.engine,
                  energy=args.energy)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EieSimError(f"cannot create --out directory {out}: {err.strerror}") from None
    if args.jobs is not None and args.jobs > 1:
        workers = worker_count(args.jobs, len(points))
        if workers < args.jobs:
            print(f"eie-sim: note: --jobs {args.jobs} capped at {workers} ({available_cores()} "
                  f"cores, {len(points)} points)", file=sys.stderr)
    show = not args.no_progress and sys.stderr.isatty()
    table = run_sweep(points, cache_dir=out / "cache", jobs=args.jobs, progress=show)
    csv_path, json_path = table.save(out)
    skipped = sum(r.get("status", "ok") != "ok" for r in table.rows)
    note = f", {skipped} infeasible (status column)" if skipped else ""
    print(f"{len(table.rows)} points ({table.computed} simulated, "
          f"{len(table.rows) - table.computed} from cache{note}) -> {csv_path}, {json_path}")
    return 0
