"""``eie-sim archs``: every registered accelerator, its engines, presets and config fields."""

from __future__ import annotations

import dataclasses
import json

from eie_sim.cli._args import _allowed, _show, examples


def add_parser(sub) -> None:
    p = sub.add_parser("archs", help="list the accelerators: engines, presets, config fields",
                       description="Every registered accelerator with its engines, presets and "
                       "config fields (name, flag, default, unit, range or choices, "
                       "description). Every field is a flag of 'run' and 'sweep'.",
                       epilog=examples("eie-sim archs", "eie-sim archs stc",
                                       "eie-sim archs --json"))
    p.add_argument("names", nargs="*", metavar="ARCH", help="only these (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe(names=None) -> list[dict]:
    """The registry as plain data (``names``: only these architectures)."""
    from eie_sim import registry

    out = []
    for name in names or registry.names():
        acc = registry.get(name)  # unknown -> one-line error listing the allowed ones
        fields = []
        for f in dataclasses.fields(acc.config):
            m = f.metadata
            fields.append({"name": f.name, "flag": "--" + (m.get("flag") or
                                                          f.name.replace("_", "-")),
                           "unit": m["unit"], "default": f.default, "lo": m["lo"],
                           "hi": m["hi"], "choices": list(m["choices"]) if m["choices"] else None,
                           "description": m["doc"]})
        out.append({"name": acc.name, "label": acc.label, "description": acc.description,
                    "engines": list(acc.engines), "presets": list(acc.presets),
                    "unit_kind": acc.unit_kind, "segment_kind": acc.segment_kind,
                    "counters": len(acc.counter_catalogue()), "fields": fields})
    return out


def format_archs(data: list[dict], width: int = 100) -> str:
    """The text listing: per architecture a header, then one row per field (name, flag,
    default, unit, allowed values) with its description wrapped under it."""
    import textwrap

    from eie_sim.report import table

    lines = []
    for acc in data:
        lines.append(f"{acc['name']}: {acc['label']}")
        lines += textwrap.wrap(acc["description"], width, initial_indent="  ",
                               subsequent_indent="  ")
        lines.append(f"  engines {', '.join(acc['engines'])}; presets "
                     f"{', '.join(acc['presets']) or 'none'}; compute unit {acc['unit_kind']}; "
                     f"segment {acc['segment_kind']}; {acc['counters']} counters")
        lines.append("")
        rows = []
        for f in acc["fields"]:
            rows.append([f["name"], f["flag"], _show(f["default"]),
                         "" if f["unit"] in ("-", "") else f["unit"],
                         "true or false" if isinstance(f["default"], bool) else
                         _allowed(f) or "any"])
        body = table(rows, ["field", "flag", "default", "unit", "allowed"], left=True)
        head, rule, *rows_text = body.splitlines()
        lines += ["  " + head.rstrip(), "  " + rule]
        for text, f in zip(rows_text, acc["fields"], strict=True):
            lines.append("  " + text.rstrip())
            lines += textwrap.wrap(f["description"], width, initial_indent="      ",
                                   subsequent_indent="      ")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def run(args) -> int:
    data = describe(args.names)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    import shutil

    print(format_archs(data, width=max(60, min(shutil.get_terminal_size().columns, 120))))
    return 0
