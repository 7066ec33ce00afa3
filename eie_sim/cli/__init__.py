"""The command line, ``eie-sim``: one module per command, one shared argument module.

Every user error is one line on stderr, ``eie-sim: error: ...``, exit code 2, no traceback,
and no output file is created or half-written. Command modules import what they use only when
they run (building the parser imports no engine, SimPy or matplotlib).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from eie_sim.cli._args import Parser, examples
from eie_sim.errors import ConfigError, EieSimError

PROG = "eie-sim"
#: command -> module (each has ``add_parser(subparsers)`` and ``run(args) -> int``)
COMMANDS = ("run", "compare", "sweep", "plot", "validate", "workloads", "archs")


def _module(name: str):
    return importlib.import_module(f"eie_sim.cli.{name}")


def build_parser() -> Parser:
    from eie_sim import __version__

    parser = Parser(prog=PROG, description="Cycle-level simulator of EIE and sparse "
                    "accelerators: cycles, energy and memory traffic.",
                    epilog=examples("eie-sim run --workload alexnet --engine des",
                                    "eie-sim archs",
                                    "eie-sim compare --workload alexnet --mode iso",
                                    "eie-sim <command> --help"))
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for name in COMMANDS:
        _module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return _module(args.command).run(args)
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
