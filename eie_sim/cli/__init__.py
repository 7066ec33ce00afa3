"""The command line, ``eie-sim``: one module per command, one shared argument module.

Every user error is one line on stderr, ``eie-sim: error: ...``, exit code 2, no traceback,
and no output file is created or half-written; a run that would exceed the memory budget
(``--max-memory``) is refused before it allocates, and a MemoryError the estimates missed is
still one line. Command modules import what they use only when
they run (building the parser imports no engine, SimPy or matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from eie_sim.cli._args import Parser, add_resource_arguments, examples
from eie_sim.errors import ConfigError, EieSimError

PROG = "eie-sim"
#: command -> module (each has ``add_parser(subparsers)`` and ``run(args) -> int``)
COMMANDS = ("run", "compare", "sweep", "plot", "report", "validate", "workloads", "archs")
#: commands that simulate, and so take ``--max-memory``
SIMULATING = ("run", "compare", "sweep", "validate")


def _module(name: str):
    return importlib.import_module(f"eie_sim.cli.{name}")


def build_parser(command: str | None = None) -> Parser:
    """The parser of every command, or of ``command`` alone: what parsing a command line that
    names it needs (the other commands' parsers are not built; its help and errors are the
    same)."""
    parser = Parser(prog=PROG, description="Cycle-level simulator of EIE and sparse "
                    "accelerators: cycles, energy and memory traffic.",
                    epilog=examples("eie-sim run --workload alexnet --engine des",
                                    "eie-sim archs",
                                    "eie-sim compare --workload alexnet --mode iso",
                                    "eie-sim <command> --help"))
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the version and which code runs the fast path's loops, "
                             "then exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for name in COMMANDS if command is None else (command,):
        _module(name).add_parser(sub)
        if name in SIMULATING:
            add_resource_arguments(sub.choices[name])
    return parser


class _Version(argparse.Action):
    """``--version``: the version and which code runs the fast path's loops (compiled or
    numpy; :mod:`eie_sim.accel`), looked up only when asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        from eie_sim import __version__, accel

        print(f"{PROG} {__version__} ({accel.description()})")
        parser.exit()


def _one_line(err: BaseException) -> str:
    """The message on one line (a path or value with a newline cannot split it)."""
    return " ".join(str(err).splitlines()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        from eie_sim import limits

        limits.set_max_memory(getattr(args, "max_memory", None))  # None: the default
        return _module(args.command).run(args)
    except (EieSimError, ConfigError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except MemoryError:  # an allocation the estimates did not foresee: still one line
        print(f"{PROG}: error: out of memory; allowed: a smaller layer, batch or input file, "
              "or a lower --max-memory so the estimates refuse it before it starts",
              file=sys.stderr)
        return 2
    except RecursionError:
        print(f"{PROG}: error: an input is nested too deeply to process; allowed: flat YAML "
              "mappings and plain arrays", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
