"""What every command shares: the parser with one-line errors, value types, and the
architecture flags generated from the configs' ``param()`` metadata.

Every field of every registered architecture's config is a flag: ``--<field-name>`` (or its
short name from the metadata, e.g. ``--pes``), typed from its default, its help text made of
the field's description, unit, default per architecture and allowed range or choices. Nothing
here names an architecture or a field: adding one to the registry adds its flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eie_sim import registry
from eie_sim.config import ArchConfig
from eie_sim.errors import EieSimError
from eie_sim.limits import INT64_MAX, MAX_EXCERPT, excerpt


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples kept as written; a command name as long as ``workloads`` keeps
    its help on its line (argparse before Python 3.13 measures commands without their indent)."""

    def _split_lines(self, text, width):
        # argparse breaks on hyphens ("element- wise"); words stay whole here.
        import textwrap

        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False)

    def add_argument(self, action):
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            for sub in self._iter_indented_subactions(action):
                length = len(self._format_action_invocation(sub)) + self._current_indent
                self._action_max_length = max(self._action_max_length, length)


_LONG_QUOTED = re.compile("'([^']{" + str(MAX_EXCERPT) + ",})'")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage + message, no abbreviated options
    (``--weights`` must never be taken for ``--weights-from``), examples kept as written."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        # argparse quotes the offending value in full ("invalid choice: '...'"): cut it
        raise EieSimError(_LONG_QUOTED.sub(lambda m: excerpt(m.group(1)), message))


def int_arg(text: str) -> int:
    """An integer in int64's range (every integer flag has a tighter bound where it is used)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {excerpt(text)}") from None
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer in [-2**63, 2**63 - 1], got "
                                         f"{excerpt(text)}")
    return value


def positive_int(text: str) -> int:
    value = int_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def float_arg(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {excerpt(text)}") from None


def bool_arg(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {excerpt(text)}")


def list_of(kind: Callable[[str], Any], name: str | None = None):
    """argparse type: a comma-separated list of ``kind``."""

    def parse(text: str):
        try:
            values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            label = name or getattr(kind, "__name__", "value").removesuffix("_arg")
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {label}, got {excerpt(text)}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values

    return parse


def memory_size(text: str) -> int:
    """argparse type of ``--max-memory``: ``8G``, ``512M``, ``25%`` ... -> bytes."""
    from eie_sim.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_resource_arguments(parser) -> None:
    """``--max-memory``: the memory budget the estimates are checked against."""
    from eie_sim.limits import DEFAULT_MEMORY_FRACTION, ENV_MAX_MEMORY

    parser.add_argument(
        "--max-memory", type=memory_size, metavar="SIZE",
        help="refuse a run whose estimated memory exceeds SIZE (e.g. 8G, 512M, 25%%; default "
             f"${ENV_MAX_MEMORY}, else {round(DEFAULT_MEMORY_FRACTION * 100)}%% of physical "
             "memory)")


_TYPES: dict[type, Callable[[str], Any]] = {int: int_arg, float: float_arg, bool: bool_arg}
_METAVARS = {int: "N", float: "X", bool: "true|false", str: "S"}


@dataclasses.dataclass(frozen=True)
class ArchFlag:
    """One generated flag and the config fields (per architecture) it sets."""

    flag: str
    dest: str
    fields: dict[str, dataclasses.Field]  # arch -> field

    def kind(self) -> type:
        """The value type: the fields' default type (int and float together: float)."""
        kinds = {type(f.default) for f in self.fields.values()}
        if len(kinds) == 1:
            return kinds.pop()
        return float if kinds == {int, float} else str

    def choices(self) -> list | None:
        """Every arch's choices in order of appearance (each config checks its own)."""
        out: list = []
        for f in self.fields.values():
            for c in f.metadata["choices"] or ():
                if c not in out:
                    out.append(c)
        return out or None

    def help(self) -> str:
        """The field's description, unit, default, range or choices, and the archs that have
        it; where the archs differ in one of these, each value is followed by its archs."""

        def doc(f):
            unit = f.metadata["unit"]
            return f.metadata["doc"] + (f" [{unit}]" if unit not in ("-", "") else "")

        parts = [_per_arch(self.fields, doc),
                 "default " + _per_arch(self.fields, lambda f: _show(f.default))]
        order = self.choices() or []
        allowed = _per_arch(self.fields, lambda f: _allowed(f.metadata, order))
        if allowed:
            parts.append(allowed)
        parts.append("archs: " + ", ".join(self.fields))
        return "; ".join(parts).replace("%", "%%")


def _per_arch(fields: dict[str, dataclasses.Field], show: Callable) -> str:
    """``show(field)`` once if every arch agrees, else ``value (archs); value (archs)``."""
    groups: dict[str, list[str]] = {}
    for arch, f in fields.items():
        groups.setdefault(show(f), []).append(arch)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{v or 'any'} ({', '.join(a)})" for v, a in groups.items())


def _allowed(meta: Mapping[str, Any], order: Sequence = ()) -> str:
    """A field's allowed values from its metadata: ``one of ...`` (in ``order`` where given),
    ``range [lo, hi]``, ``>= lo`` or ``<= hi``; empty if any value of its type is."""
    if meta["choices"]:
        choices = sorted(meta["choices"], key=lambda c: order.index(c) if c in order else 0)
        return "one of " + ", ".join(map(str, choices))
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and hi is not None:
        return f"range [{_show(lo)}, {_show(hi)}]"
    if lo is not None:
        return f">= {_show(lo)}"
    if hi is not None:
        return f"<= {_show(hi)}"
    return ""


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def arch_flags() -> list[ArchFlag]:
    """Every config field of every registered architecture as a flag (shared names merged)."""
    by_flag: dict[str, dict[str, dataclasses.Field]] = {}
    for name, acc in registry.ACCELERATORS.items():
        for f in dataclasses.fields(acc.config):
            flag = f.metadata.get("flag") or f.name.replace("_", "-")
            mine = by_flag.setdefault(flag, {})
            if name in mine:  # a config bug, caught by the tests
                raise AssertionError(f"{name}: fields {mine[name].name} and {f.name} both "
                                     f"claim --{flag}")
            mine[name] = f
    return [ArchFlag(flag, "field_" + flag.replace("-", "_"), fields)
            for flag, fields in by_flag.items()]


def add_arch_arguments(group, *, as_list: bool = False) -> None:
    """``--arch``, ``--config``, ``--preset`` and one flag per config field (lists for sweeps)."""
    names = registry.names()
    if as_list:
        group.add_argument("--arch", default=["eie"], type=list_of(str, "architectures"),
                           metavar="A[,A...]", help=f"architectures: {', '.join(names)} "
                           "(default eie; 'eie-sim archs' describes them)")
    else:
        group.add_argument("--arch", default="eie", choices=names,
                           help="accelerator (default eie; 'eie-sim archs' describes them)")
    presets: dict[str, list[str]] = {}  # preset list -> archs
    for n, a in registry.ACCELERATORS.items():
        if a.presets:
            presets.setdefault(", ".join(a.presets), []).append(n)
    group.add_argument("--preset", metavar="NAME", help="a named machine: " + "; ".join(
        f"{p} ({', '.join(archs)})" for p, archs in presets.items()) + " (default: the first)")
    group.add_argument("--config", metavar="YAML",
                       help="architecture config file (any field of the arch; 'arch:' picks it)")
    for spec in arch_flags():
        kind = spec.kind()
        choices = spec.choices()
        if as_list:
            group.add_argument(f"--{spec.flag}", dest=spec.dest, metavar="V[,V...]",
                               type=list_of(_TYPES.get(kind, str), f"{kind.__name__} values"),
                               help=spec.help())
        else:
            group.add_argument(f"--{spec.flag}", dest=spec.dest, type=_TYPES.get(kind, str),
                               choices=choices,
                               metavar=None if choices else _METAVARS.get(kind, "S"),
                               help=spec.help())


def base_config(arch: str, config_path: str | None, preset: str | None) -> ArchConfig:
    """The starting config of ``arch``: a YAML file, a preset, or the defaults."""
    acc = registry.get(arch)
    if config_path:
        config = registry.load_config(config_path, arch)
        if config.arch != arch:
            raise EieSimError(f"--config describes arch {config.arch!r} but --arch is {arch!r}")
        if preset is not None:
            raise EieSimError("give --config or --preset, not both")
        return config
    if preset is not None:
        if not acc.presets:
            with_presets = [n for n, a in registry.ACCELERATORS.items() if a.presets]
            raise EieSimError(f"--preset applies to {', '.join(with_presets)}, not {arch}")
        return acc.default_config(preset)
    if acc.presets:
        return acc.default_config(next(iter(acc.presets)))
    return acc.default_config()


def field_values(args, arch: str) -> dict[str, Any]:
    """``{field: value}`` the flags set for ``arch``; a flag ``arch`` has no field for is a
    one-line error naming the arch's flags."""
    out = {}
    for spec in arch_flags():
        value = getattr(args, spec.dest, None)
        if value is None:
            continue
        field = spec.fields.get(arch)
        if field is None:
            raise not_applicable(spec, [arch])
        out[field.name] = value
    return out


def not_applicable(spec: ArchFlag, archs: Sequence[str]) -> EieSimError:
    """The one-line error for a flag none of ``archs`` has a field for, naming their flags."""
    own = [s.flag for s in arch_flags() if any(a in s.fields for a in archs)]
    whose = "its" if len(archs) == 1 else "their"
    return EieSimError(f"--{spec.flag} does not apply to arch {', '.join(archs)}; {whose} "
                       "flags: " + ", ".join(f"--{f}" for f in own))


def arch_config(args) -> ArchConfig:
    """The config ``run`` simulates: base (config file / preset / defaults) + field flags."""
    config = base_config(args.arch, args.config, args.preset)
    changes = field_values(args, args.arch)
    return config.replace(**changes) if changes else config


def examples(*lines: str) -> str:
    """An ``epilog`` of example command lines."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
