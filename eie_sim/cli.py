"""Command line: ``eie-sim run``, ``eie-sim workloads``.

Every user error is one line on stderr, ``eie-sim: error: ...``, exit code 2, no traceback,
and no output file is created or half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eie_sim import registry
from eie_sim.registry import load_config
from eie_sim.errors import CapacityError, ConfigError, EieSimError
from eie_sim.result import RunResult, check_writable, write_atomic

PROG = "eie-sim"
ARCHS = {name: acc.config for name, acc in registry.ACCELERATORS.items()}  # temporary


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage + message, and no abbreviated
    options (``--weights`` must never be taken for ``--weights-from``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        raise EieSimError(message)


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return value


def _at_least_one(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Cycle-level simulator of EIE and sparse accelerators.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload and print cycles, time and activity")
    src = run.add_argument_group("workload (a name, or a synthetic layer)")
    src.add_argument("--workload", metavar="NAME", help="named workload (see 'eie-sim workloads')")
    src.add_argument("--inputs", type=_int, metavar="N", help="synthetic layer inputs")
    src.add_argument("--outputs", type=_int, metavar="M", help="synthetic layer outputs")
    src.add_argument("--weight-density", type=_float, metavar="D", help="in [0, 1]")
    src.add_argument("--activation-density", type=_float, metavar="D", help="in [0, 1]")
    src.add_argument(
        "--output-density",
        type=_float,
        metavar="D",
        default=0.5,
        help="bias target: fraction of outputs > 0 (default 0.5)",
    )
    src.add_argument(
        "--seed",
        type=_int,
        metavar="S",
        help="seed (default: the workload's own; 0 for synthetic layers)",
    )
    own = run.add_argument_group("your own weights (.npz or .safetensors)")
    own.add_argument("--weights", metavar="FILE", help="weights file")
    own.add_argument("--tensor", metavar="NAME", help="weight tensor (outputs x inputs)")
    own.add_argument("--bias-tensor", metavar="NAME", help="bias tensor (outputs)")
    own.add_argument("--transpose", action="store_true", help="the tensor is (inputs x outputs)")
    own.add_argument("--prune-density", type=_float, metavar="D",
                     help="magnitude-prune to this density first")
    own.add_argument("--activations", metavar="FILE.npy",
                     help="input activations (or give --activation-density)")
    own.add_argument("--prune", action="store_true",
                     help="stc: N:M-prune weights that violate the pattern (default: refuse "
                          "them; named and synthetic workloads are always N:M-pruned)")
    arch = run.add_argument_group("architecture")
    _arch_arguments(arch)
    run.add_argument(
        "--engine",
        default="fast",
        choices=["fast", "des"],
        help="fast (vectorised, default) or des (SimPy); they agree exactly",
    )
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    cmp = sub.add_parser("compare", help="EIE vs the 2:4 tensor core vs the dense baseline")
    cmp.add_argument("--workload", required=True, metavar="NAME", help="named workload")
    cmp.add_argument("--seed", type=_int, metavar="S", help="workload seed")
    cmp.add_argument("--pes", type=_int, metavar="N", help="PEs of both (default 64)")
    cmp.add_argument("--clock-mhz", type=_float, metavar="F", help="clock of both (default 800)")
    cmp.add_argument(
        "--dram-gbps", type=_float, metavar="B", help="DRAM bandwidth of both, GB/s (default 25.6)"
    )
    cmp.add_argument(
        "--energy",
        default="45nm",
        metavar="TABLE",
        help="energy table: 45nm (default), 7nm or a YAML file",
    )
    cmp.add_argument("--engine", default="fast", choices=["fast", "des"])
    cmp.add_argument("--stc-preset", default="iso-eie", metavar="NAME",
                     help="tensor-core preset (default iso-eie: EIE's MACs, clock and SRAM)")
    cmp.add_argument("--json", metavar="PATH", help="also write both results as JSON")

    sw = sub.add_parser("sweep", help="run a grid of configs x workloads, write CSV and JSON")
    sw.add_argument("--arch", default="eie", type=_list(str), metavar="A[,A...]",
                    help=f"architectures ({', '.join(ARCHS)})")
    sw.add_argument("--workload", type=_list(str), metavar="NAME[,NAME...]",
                    help="named workloads (or a synthetic layer with --inputs ...)")
    sw.add_argument("--inputs", type=_int, metavar="N", help="synthetic layer inputs")
    sw.add_argument("--outputs", type=_int, metavar="M", help="synthetic layer outputs")
    sw.add_argument("--weight-density", type=_list(float), metavar="D[,D...]")
    sw.add_argument("--activation-density", type=_list(float), metavar="D[,D...]")
    sw.add_argument("--seed", type=_list(int), metavar="S[,S...]", help="workload seeds")
    sw.add_argument("--pes", type=_list(int), metavar="N[,N...]", help="PE counts")
    sw.add_argument("--queue-depth", type=_list(int), metavar="D[,D...]")
    sw.add_argument("--queue-model", type=_list(str), metavar="M[,M...]")
    sw.add_argument("--clock-mhz", type=_list(float), metavar="F[,F...]")
    sw.add_argument("--dram-gbps", type=_list(float), metavar="B[,B...]")
    sw.add_argument("--sram-capacity", type=_list(str), metavar="enforce|unbounded")
    sw.add_argument("--weights-from", type=_list(str), metavar="auto|sram|dram")
    sw.add_argument("--engine", default="fast", choices=["fast", "des"])
    sw.add_argument("--energy", default="45nm", metavar="TABLE")
    sw.add_argument("--jobs", type=_at_least_one, metavar="N", help="worker processes (>= 1)")
    sw.add_argument("--out", required=True, metavar="DIR", help="writes DIR/sweep.csv and .json")
    sw.add_argument("--no-progress", action="store_true")

    pl = sub.add_parser("plot", help="draw a plot from a sweep directory")
    pl.add_argument("kind", metavar="KIND", help="plot kind (see eie_sim.plots.PLOTS)")
    pl.add_argument("--from", dest="src", required=True, metavar="DIR", help="sweep directory")
    pl.add_argument("--out", metavar="DIR", help="output directory (default: --from)")

    sub.add_parser("workloads", help="list the named workloads")
    return parser


def _list(kind):
    """argparse type: a comma-separated list of ``kind``."""

    def parse(text: str):
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values

    return parse


def _arch_arguments(arch) -> None:
    arch.add_argument(
        "--arch",
        default="eie",
        choices=list(ARCHS),
        help="accelerator: eie (default) or dense (the baseline)",
    )
    arch.add_argument("--config", metavar="YAML", help="architecture config file")
    arch.add_argument("--pes", type=_int, metavar="N", help="number of PEs (default 64)")
    arch.add_argument(
        "--queue-depth", type=_int, metavar="D", help="activation queue slots (default 8)"
    )
    arch.add_argument(
        "--queue-model",
        choices=["circular", "counter"],
        help="FIFO full rule (default circular: holds depth-1)",
    )
    arch.add_argument("--clock-mhz", type=_float, metavar="F", help="clock (default 800)")
    arch.add_argument(
        "--sram-capacity",
        choices=["enforce", "unbounded"],
        help="eie: refuse layers whose weights exceed the SRAM (default enforce)",
    )
    arch.add_argument(
        "--weights-from",
        choices=["auto", "sram", "dram"],
        help="weights resident in SRAM or streamed from DRAM "
        "(eie default sram; dense default auto)",
    )
    arch.add_argument(
        "--dram-gbps",
        type=_float,
        metavar="B",
        help="DRAM bandwidth for weight streaming, GB/s (default 25.6)",
    )
    arch.add_argument("--preset", metavar="NAME",
                      help="stc / dense-tc: a100 (default), h100 or iso-eie")
    arch.add_argument("--pattern", metavar="N:M", help="stc: sparsity pattern (default 2:4)")
    arch.add_argument("--batch", type=_int, metavar="B", help="stc / dense-tc: batch size")
    arch.add_argument("--dtype", choices=["fp16", "int8"], help="stc / dense-tc operand type")
    arch.add_argument(
        "--energy",
        default="45nm",
        metavar="TABLE",
        help="energy table: 45nm (default), 7nm or a YAML file",
    )


#: command-line flag -> config field it sets (only for the archs that have the field)
FLAG_FIELDS = {
    "pes": "num_pes", "queue_depth": "act_queue_depth", "queue_model": "act_queue_model",
    "clock_mhz": "clock_mhz", "sram_capacity": "sram_capacity", "weights_from": "weights_from",
    "dram_gbps": "dram_bandwidth_gbps", "pattern": "pattern", "batch": "batch", "dtype": "dtype",
}
TENSOR_CORES = ("stc", "dense-tc")


def _arch_config(args):
    cls = ARCHS[args.arch]
    if args.config:
        config = load_config(args.config, args.arch)
        if config.arch != args.arch:
            raise EieSimError(
                f"--config describes arch {config.arch!r} but --arch is {args.arch!r}")
    elif args.arch in TENSOR_CORES:
        config = cls.preset(args.preset or "a100")
    else:
        config = cls()
    if args.preset is not None and args.arch not in TENSOR_CORES:
        raise EieSimError(f"--preset applies to {' and '.join(TENSOR_CORES)}, not {args.arch}")
    fields = config.to_dict()
    changes = {}
    for flag, name in FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if args.arch in TENSOR_CORES and name == "dram_bandwidth_gbps":
            name = "mem_bandwidth_gbps"
        if name not in fields:
            raise EieSimError(f"--{flag.replace('_', '-')} does not apply to arch {args.arch}; "
                              f"its fields: {', '.join(k for k in fields if k != 'arch')}")
        changes[name] = value
    return config.replace(**changes) if changes else config


def _workload(args):
    from eie_sim.workloads import LayerSpec, get_workload, single_layer

    if args.weights is not None:
        from eie_sim.workloads.loaders import user_workload

        if args.workload is not None or args.inputs is not None:
            raise EieSimError("give one of --workload, --weights or a synthetic layer")
        if args.tensor is None:
            raise EieSimError("--weights needs --tensor NAME (the weight tensor)")
        return user_workload(args.weights, args.tensor, bias=args.bias_tensor,
                             transpose=args.transpose, prune_density=args.prune_density,
                             activations=args.activations,
                             activation_density=args.activation_density,
                             seed=args.seed or 0)
    synthetic = [args.inputs, args.outputs, args.weight_density, args.activation_density]
    if args.workload is not None:
        if any(v is not None for v in synthetic):
            raise EieSimError(
                "give either --workload or a synthetic layer "
                "(--inputs/--outputs/--weight-density/--activation-density), not both"
            )
        return get_workload(args.workload, args.seed)
    if any(v is None for v in synthetic):
        raise EieSimError(
            "no workload: give --workload NAME, or all of --inputs, --outputs, "
            "--weight-density and --activation-density"
        )
    spec = LayerSpec(
        name=f"synthetic-{args.inputs}x{args.outputs}",
        inputs=args.inputs,
        outputs=args.outputs,
        weight_density=args.weight_density,
        activation_density=args.activation_density,
        seed=0 if args.seed is None else args.seed,
        output_density=args.output_density,
    )
    return single_layer(spec, description="synthetic layer")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r):
        return "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def describe_config(cfg: dict) -> str:
    """One line of the settings that matter for an architecture config (as a dict)."""
    if "num_pes" in cfg:
        return (f"{cfg['num_pes']} PEs, {cfg['clock_mhz']:g} MHz, queue depth "
                f"{cfg['act_queue_depth']}, weights from {cfg['weights_from']}")
    pattern = cfg["pattern"] if cfg["arch"] == "stc" else "dense"
    return (f"{cfg['sms']} SMs x {cfg['tensor_cores_per_sm']} tensor cores, "
            f"{cfg['clock_mhz']:g} MHz, {pattern} {cfg['dtype']}, batch {cfg['batch']}, "
            f"weights from {cfg['weights_from']}")


def format_run(result: RunResult) -> str:
    cfg = result.config
    lines = [f"workload {result.workload} on {result.arch} ({describe_config(cfg)}), "
             f"engine {result.engine}", ""]
    rows = [
        [
            lr.name,
            f"{lr.n_in}x{lr.n_out}",
            f"{lr.weight_density:.1%}",
            f"{lr.activation_density:.1%}",
            f"{lr.cycles:,}",
            f"{lr.time_us:.2f}",
            f"{lr.load_balance_efficiency:.1%}",
            f"{lr.unit_utilization:.1%}",
            "yes" if lr.outputs_match_reference else "NO",
        ]
        for lr in result.layers
    ]
    rows.append(
        [
            "total",
            "",
            "",
            "",
            f"{result.cycles:,}",
            f"{result.time_us:.2f}",
            "",
            "",
            "yes" if result.outputs_match_reference else "NO",
        ]
    )
    lines.append(
        _table(
            rows,
            [
                "layer",
                "size",
                "weights",
                "acts",
                "cycles",
                "time_us",
                "load_bal",
                "util",
                "matches_ref",
            ],
        )
    )
    if result.layers[0].energy is not None:
        lines += ["", f"energy ({result.layers[0].energy.table} table)"]
        erows = [
            [
                lr.name,
                f"{lr.energy.total_pj / 1e6:.3f}",
                f"{lr.energy.dynamic_pj / 1e6:.3f}",
                f"{lr.energy.leakage_pj / 1e6:.3f}",
                f"{lr.energy.power_mw:.1f}",
            ]
            for lr in result.layers
        ]
        total = result.energy
        erows.append(
            [
                "total",
                f"{total.total_pj / 1e6:.3f}",
                f"{total.dynamic_pj / 1e6:.3f}",
                f"{total.leakage_pj / 1e6:.3f}",
                f"{total.power_mw:.1f}",
            ]
        )
        lines.append(_table(erows, ["layer", "energy_uJ", "dynamic_uJ", "leakage_uJ", "power_mW"]))
    traffic = result.traffic_bytes
    lines += ["", "memory traffic (bytes, all layers)"]
    lines.append(
        _table(
            [[lvl, f"{d['read']:,.0f}", f"{d['write']:,.0f}"] for lvl, d in traffic.items()],
            ["level", "read", "write"],
        )
    )
    lines += ["", "per-unit activity (unit.action: count per layer)"]
    names = list(result.layers[0].counts)
    act_rows = [[k, *(f"{lr.counts[k]:,}" for lr in result.layers)] for k in names]
    lines.append(_table(act_rows, ["unit.action", *(lr.name for lr in result.layers)]))
    for lr in result.layers:
        for w in lr.warnings:
            lines.append(f"warning: {lr.name}: {w}")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from eie_sim.simulate import simulate

    if args.json:
        check_writable(args.json)
    config = _arch_config(args)
    workload = _workload(args)
    show = not args.no_progress and sys.stderr.isatty()
    result = simulate(config, workload, engine=args.engine, progress=show, energy=args.energy,
                      nm_prune=args.prune or args.weights is None)
    if args.json:
        write_atomic(args.json, result.to_json())
    print(format_run(result))
    return 0


def _dram_bytes(result: RunResult) -> float:
    return result.traffic_bytes.get("dram", {}).get("read", 0) + result.traffic_bytes.get(
        "dram", {}
    ).get("write", 0)


def _sram_bytes(result: RunResult) -> float:
    levels = ("spmat_sram", "ptr_sram", "act_sram", "weight_sram")
    return sum(d["read"] + d["write"] for lvl, d in result.traffic_bytes.items() if lvl in levels)


def format_compare(results: dict[str, RunResult]) -> str:
    base = results["dense"]
    header = [
        "arch",
        "cycles",
        "time_us",
        "energy_uJ",
        "power_mW",
        "dram_MB",
        "sram_MB",
        "speedup_vs_dense",
        "energy_vs_dense",
    ]
    rows = []
    for name, r in results.items():
        e = r.energy
        rows.append(
            [
                name,
                f"{r.cycles:,}",
                f"{r.time_us:.2f}",
                f"{e.total_pj / 1e6:.3f}",
                f"{e.power_mw:.1f}",
                f"{_dram_bytes(r) / 1e6:.3f}",
                f"{_sram_bytes(r) / 1e6:.3f}",
                f"{base.time_us / r.time_us:.2f}x",
                f"{base.energy.total_pj / e.total_pj:.2f}x",
            ]
        )
    lines = [
        f"workload {base.workload}, {base.energy.table} energy table",
        *(f"  {name}: {describe_config(r.config)}" for name, r in results.items()),
        "",
        _table(rows, header),
        "",
        "per layer (time_us / energy_uJ)",
    ]
    names = list(results)
    lrows = []
    for i, layer in enumerate(base.layers):
        lrows.append(
            [
                layer.name,
                *(
                    f"{results[a].layers[i].time_us:.2f} / "
                    f"{results[a].layers[i].energy.total_pj / 1e6:.3f}"
                    for a in names
                ),
            ]
        )
    lines.append(_table(lrows, ["layer", *names]))
    return "\n".join(lines)


def cmd_compare(args) -> int:
    import json

    from eie_sim.simulate import simulate
    from eie_sim.workloads import get_workload

    if args.json:
        check_writable(args.json)
    workload = get_workload(args.workload, args.seed)
    common = {
        k: v
        for k, v in {
            "num_pes": args.pes,
            "clock_mhz": args.clock_mhz,
            "dram_bandwidth_gbps": args.dram_gbps,
        }.items()
        if v is not None
    }
    results = {}
    tc_common = {("mem_bandwidth_gbps" if k == "dram_bandwidth_gbps" else k): v
                 for k, v in common.items() if k != "num_pes"}
    configs = {
        "eie": ARCHS["eie"]().replace(**common),
        "stc": ARCHS["stc"].preset(args.stc_preset, **tc_common),
        "dense": ARCHS["dense"]().replace(**common),
    }
    for arch, config in configs.items():
        try:
            results[arch] = simulate(config, workload, engine=args.engine, energy=args.energy)
        except CapacityError:
            # Weights that do not fit on chip stream from DRAM instead.
            config = config.replace(weights_from="dram")
            results[arch] = simulate(config, workload, engine=args.engine, energy=args.energy)
    if args.json:
        write_atomic(
            args.json,
            json.dumps({a: r.to_dict(outputs=False) for a, r in results.items()}, indent=2) + "\n",
        )
    print(format_compare(results))
    return 0


def cmd_sweep(args) -> int:
    from pathlib import Path

    from eie_sim.sweep import grid, run_sweep

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise EieSimError(f"--out {out} is a file; allowed: a directory")
    unknown = [a for a in args.arch if a not in ARCHS]
    if unknown:
        raise EieSimError(f"unknown arch {unknown[0]!r}; allowed: {', '.join(ARCHS)}")
    synthetic = args.inputs is not None or args.outputs is not None
    if synthetic == (args.workload is not None):
        raise EieSimError("give either --workload NAME[,NAME...] or a synthetic layer "
                          "(--inputs, --outputs, --weight-density, --activation-density)")
    params = {"num_pes": args.pes, "act_queue_depth": args.queue_depth,
              "act_queue_model": args.queue_model, "clock_mhz": args.clock_mhz,
              "dram_bandwidth_gbps": args.dram_gbps, "sram_capacity": args.sram_capacity,
              "weights_from": args.weights_from}
    if synthetic:
        if None in (args.inputs, args.outputs, args.weight_density, args.activation_density):
            raise EieSimError("a synthetic sweep needs --inputs, --outputs, --weight-density "
                              "and --activation-density")
        workloads = [{"inputs": args.inputs, "outputs": args.outputs}]
        params["workload.weight_density"] = args.weight_density
        params["workload.activation_density"] = args.activation_density
    else:
        from eie_sim.workloads import workload_names

        for name in args.workload:
            if name not in workload_names():
                raise EieSimError(f"unknown workload {name!r}; allowed: "
                                  f"{', '.join(workload_names())}")
        workloads = args.workload
    params = {k: v for k, v in params.items() if v is not None}
    archs = [ARCHS[a]() for a in args.arch]
    from eie_sim.energy import load_table

    load_table(args.energy)  # fail before any work
    points = grid(archs, workloads, params, seeds=args.seed or (None,), engine=args.engine,
                  energy=args.energy)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EieSimError(f"cannot create --out directory {out}: {err.strerror}") from None
    show = not args.no_progress and sys.stderr.isatty()
    table = run_sweep(points, cache_dir=out / "cache", jobs=args.jobs, progress=show)
    csv_path, json_path = table.save(out)
    print(f"{len(table.rows)} points ({table.computed} simulated, "
          f"{len(table.rows) - table.computed} from cache) -> {csv_path}, {json_path}")
    return 0


def cmd_plot(args) -> int:
    from eie_sim.plots import PLOTS
    from eie_sim.sweep import SweepResult

    if args.kind not in PLOTS:
        raise EieSimError(f"unknown plot {args.kind!r}; allowed: {', '.join(PLOTS)}")
    table = SweepResult.load(args.src)
    out = args.out or args.src
    for path in PLOTS[args.kind](table, out):
        print(path)
    return 0


def cmd_workloads(args) -> int:
    from eie_sim.workloads import describe, workload_names

    names = workload_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name.ljust(width)}  {describe(name)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        commands = {"run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep,
                    "plot": cmd_plot, "workloads": cmd_workloads}
        return commands[args.command](args)
    except (EieSimError, ConfigError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
