"""Command line: ``eie-sim run``, ``eie-sim workloads``.

Every user error is one line on stderr, ``eie-sim: error: ...``, exit code 2, no traceback,
and no output file is created or half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eie_sim.config import EIEConfig, load_config
from eie_sim.errors import ConfigError, EieSimError
from eie_sim.result import RunResult, check_writable, write_atomic

PROG = "eie-sim"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage + message."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise EieSimError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
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
    src.add_argument("--inputs", type=_positive_int, metavar="N", help="synthetic layer inputs")
    src.add_argument("--outputs", type=_positive_int, metavar="M", help="synthetic layer outputs")
    src.add_argument("--weight-density", type=_float, metavar="D", help="in [0, 1]")
    src.add_argument("--activation-density", type=_float, metavar="D", help="in [0, 1]")
    src.add_argument("--output-density", type=_float, metavar="D", default=0.5,
                     help="bias target: fraction of outputs > 0 (default 0.5)")
    src.add_argument("--seed", type=_positive_int, metavar="S",
                     help="seed (default: the workload's own; 0 for synthetic layers)")
    arch = run.add_argument_group("architecture")
    arch.add_argument("--arch", default="eie", choices=["eie"], help="accelerator (default eie)")
    arch.add_argument("--config", metavar="YAML", help="architecture config file")
    arch.add_argument("--pes", type=_positive_int, metavar="N", help="number of PEs (default 64)")
    arch.add_argument("--queue-depth", type=_positive_int, metavar="D",
                      help="activation queue slots (default 8)")
    arch.add_argument("--queue-model", choices=["circular", "counter"],
                      help="FIFO full rule (default circular: holds depth-1)")
    arch.add_argument("--clock-mhz", type=_float, metavar="F", help="clock (default 800)")
    arch.add_argument("--sram-capacity", choices=["enforce", "unbounded"],
                      help="refuse layers whose weights exceed the SRAM (default enforce)")
    run.add_argument("--engine", default="fast", choices=["fast", "des"],
                     help="fast (vectorised, default) or des (SimPy); they agree exactly")
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    sub.add_parser("workloads", help="list the named workloads")
    return parser


def _arch_config(args) -> EIEConfig:
    config = load_config(args.config, args.arch) if args.config else EIEConfig()
    changes = {
        "num_pes": args.pes,
        "act_queue_depth": args.queue_depth,
        "act_queue_model": args.queue_model,
        "clock_mhz": args.clock_mhz,
        "sram_capacity": args.sram_capacity,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    return config.replace(**changes) if changes else config


def _workload(args):
    from workloads import LayerSpec, get_workload, single_layer

    synthetic = [args.inputs, args.outputs, args.weight_density, args.activation_density]
    if args.workload is not None:
        if any(v is not None for v in synthetic):
            raise EieSimError("give either --workload or a synthetic layer "
                              "(--inputs/--outputs/--weight-density/--activation-density), not both")
        return get_workload(args.workload, args.seed)
    if any(v is None for v in synthetic):
        raise EieSimError("no workload: give --workload NAME, or all of --inputs, --outputs, "
                          "--weight-density and --activation-density")
    spec = LayerSpec(
        name=f"synthetic-{args.inputs}x{args.outputs}", inputs=args.inputs, outputs=args.outputs,
        weight_density=args.weight_density, activation_density=args.activation_density,
        seed=0 if args.seed is None else args.seed, output_density=args.output_density)
    return single_layer(spec, description="synthetic layer")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def fmt(r):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def format_run(result: RunResult) -> str:
    cfg = result.config
    lines = [f"workload {result.workload} on {result.arch} ({cfg.get('num_pes')} PEs, "
             f"{cfg.get('clock_mhz'):g} MHz, queue depth {cfg.get('act_queue_depth')}), "
             f"engine {result.engine}", ""]
    rows = [[lr.name, f"{lr.n_in}x{lr.n_out}", f"{lr.weight_density:.1%}",
             f"{lr.activation_density:.1%}", f"{lr.cycles:,}", f"{lr.time_us:.2f}",
             f"{lr.load_balance_efficiency:.1%}", f"{lr.pe_utilization:.1%}",
             "yes" if lr.outputs_match_reference else "NO"] for lr in result.layers]
    rows.append(["total", "", "", "", f"{result.cycles:,}", f"{result.time_us:.2f}", "", "",
                 "yes" if result.outputs_match_reference else "NO"])
    lines.append(_table(rows, ["layer", "size", "weights", "acts", "cycles", "time_us",
                               "load_bal", "util", "matches_ref"]))
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
    result = simulate(config, workload, engine=args.engine, progress=show)
    print(format_run(result))
    if args.json:
        write_atomic(args.json, result.to_json())
    return 0


def cmd_workloads(args) -> int:
    from workloads import describe, workload_names

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
        return {"run": cmd_run, "workloads": cmd_workloads}[args.command](args)
    except (EieSimError, ConfigError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
